#!/usr/bin/env bash
# Builds the tracing tools' eBPF programs: src/trace/bpf/<tool>.bpf.c -> .build-cache/trace/<tool>.o.
# The programs are CO-RE: vmlinux.h comes from the running kernel's BTF (bpftool btf dump) and
# relocations are resolved against the target kernel at load time, so an object built here runs
# on other kernels with BTF. A source is rebuilt only when it, trace.h, vmlinux.h or this script
# is newer than its object. Any compiler warning or error fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=src/trace/bpf
OUT=${TRACE_BPF_OUT:-.build-cache/trace}
CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}
ARCH=$(uname -m)
case "$ARCH" in
  x86_64) TARGET_ARCH=x86 ;;
  aarch64) TARGET_ARCH=arm64 ;;
  *) TARGET_ARCH=$ARCH ;;
esac
CFLAGS=(-O2 -g -target bpf -D__TARGET_ARCH_$TARGET_ARCH -I"$SRC" -I"$OUT" -Wall -Werror -Wno-unused-function)

die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }
command -v "$CLANG" >/dev/null || die "clang not found (set CLANG or install the clang package)"
command -v "$BPFTOOL" >/dev/null || die "bpftool not found (install the bpftool package)"
[ -f /usr/include/bpf/bpf_helpers.h ] || die "libbpf headers missing (install libbpf-dev)"
[ -r /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF"

mkdir -p "$OUT"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$BPFTOOL" btf dump file /sys/kernel/btf/vmlinux format c >"$tmp" || die "bpftool btf dump failed"
if ! cmp -s "$tmp" "$OUT/vmlinux.h"; then
  echo "  GEN     $OUT/vmlinux.h"
  mv "$tmp" "$OUT/vmlinux.h"
fi

built=0
for src in "$SRC"/*.bpf.c; do
  name=$(basename "$src" .bpf.c)
  obj=$OUT/$name.o
  stale=0
  [ -f "$obj" ] || stale=1
  for d in "$src" "$SRC/trace.h" "$OUT/vmlinux.h" "$0"; do if [ "$d" -nt "$obj" ]; then stale=1; fi; done
  [ "$stale" = 1 ] || continue
  echo "  CLANG   $src -> $obj"
  if ! "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$obj.tmp"; then
    rm -f "$obj.tmp"
    die "compiling $src failed (compiler output above)"
  fi
  mv "$obj.tmp" "$obj"
  built=$((built + 1))
done
echo "  trace: $built object(s) rebuilt in $OUT"
