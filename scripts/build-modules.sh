#!/usr/bin/env bash
# Builds the data plane's eBPF objects reproducibly from their sources, each source twice (the
# tc build, and the XDP build with -DIOV_XDP; see src/dataplane/bpf/iov.h):
#   src/dataplane/bpf/patchpanel.bpf.c -> patchpanel.bpf.o, patchpanel.xdp.bpf.o (patch panel)
#   modules/<name>/<name>.bpf.c        -> <name>.bpf.o, <name>.xdp.bpf.o   (built-in IO modules)
# The objects are committed; test/unit/dataplane/objects.test.ts rebuilds them into a temp dir
# and compares bytes. Builds are only byte-identical with the same compiler, so the clang
# version is pinned (Debian's clang 14.0.6) and anything else is refused unless --force.
#
# usage: scripts/build-modules.sh [--out DIR] [--force] [-D NAME=VALUE]... [NAME...]
#   --out DIR   write objects to DIR/<name>{,.xdp}.bpf.o instead of next to their sources
#   -D N=V      extra define (e.g. -D BRIDGE_VERSION=2 for a hot-swap test build)
#   NAME        only these (patchpanel, bridge, router, monitor); default all
set -euo pipefail
cd "$(dirname "$0")/.."

PINNED_CLANG="Debian clang version 14.0.6"
CLANG=${CLANG:-clang}
OUT=""
FORCE=0
DEFINES=()
NAMES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -D) DEFINES+=("-D$2"); shift 2 ;;
    -D*) DEFINES+=("$1"); shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) NAMES+=("$1"); shift ;;
  esac
done

die() { printf 'build-modules: error: %s\n' "$*" >&2; exit 1; }

command -v "$CLANG" >/dev/null || die "clang not found (install Debian's clang-14, or set CLANG)"
version=$("$CLANG" --version | head -n1)
if [ "$version" != "$PINNED_CLANG" ]; then
  [ "$FORCE" = 1 ] || die "clang is \"$version\", objects are pinned to \"$PINNED_CLANG\" (use --force to build anyway; the committed objects will then differ)"
  echo "build-modules: warning: building with \"$version\" (not the pinned compiler)" >&2
fi

ARCH_INC=/usr/include/$(uname -m)-linux-gnu
# -fdebug-prefix-map and relative paths keep the build directory out of the DWARF, so the
# bytes depend only on the sources, the headers and the compiler.
CFLAGS=(-O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$ARCH_INC" -Wall -Werror
  -fdebug-prefix-map="$PWD"=. -fdebug-compilation-dir=.)

sources=()
if [ ${#NAMES[@]} -eq 0 ]; then
  sources+=(src/dataplane/bpf/patchpanel.bpf.c)
  for d in modules/*/; do
    n=$(basename "$d")
    [ -f "$d$n.bpf.c" ] && sources+=("$d$n.bpf.c")
  done
else
  for n in "${NAMES[@]}"; do
    if [ "$n" = patchpanel ]; then sources+=(src/dataplane/bpf/patchpanel.bpf.c)
    elif [ -f "modules/$n/$n.bpf.c" ]; then sources+=("modules/$n/$n.bpf.c")
    else die "no module source for \"$n\" (expected modules/$n/$n.bpf.c)"; fi
  done
fi

[ -z "$OUT" ] || mkdir -p "$OUT"
for src in "${sources[@]}"; do
  name=$(basename "$src" .bpf.c)
  for build in tc xdp; do
    if [ $build = tc ]; then file=$name.bpf.o; extra=(); else file=$name.xdp.bpf.o; extra=(-DIOV_XDP); fi
    if [ -n "$OUT" ]; then obj=$OUT/$file; else obj=$(dirname "$src")/$file; fi
    echo "  CLANG   $src ($build) -> $obj"
    "$CLANG" "${CFLAGS[@]}" "${extra[@]}" ${DEFINES[@]+"${DEFINES[@]}"} -c "$src" -o "$obj.tmp" || { rm -f "$obj.tmp"; die "compiling $src ($build) failed"; }
    mv "$obj.tmp" "$obj"
  done
done
echo "  built $(( ${#sources[@]} * 2 )) object(s) with $version"
