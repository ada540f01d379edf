#!/usr/bin/env bash
# Builds the eBPF test corpus: testdata/corpus/<name>.bpf.c -> testdata/corpus/build/<name>.o.
# vmlinux.h is regenerated from the running kernel's BTF first (it is machine-specific and not
# committed). A source is rebuilt only when its .o is older than the source, a shared header or
# this script, so repeated runs are cheap. Any compiler warning or error fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=testdata/corpus
OUT=$CORPUS/build
CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}
ARCH_INC=/usr/include/$(uname -m)-linux-gnu
CFLAGS=(-O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$ARCH_INC" -Wall -Werror)

die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

command -v "$CLANG" >/dev/null || die "clang not found (set CLANG or install the clang package)"
command -v "$BPFTOOL" >/dev/null || die "bpftool not found (install the bpftool package)"
[ -r /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF"

mkdir -p "$OUT"

# vmlinux.h: write to a temporary file and replace only when the content changed, so that an
# unchanged kernel does not force every CO-RE object to rebuild.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$BPFTOOL" btf dump file /sys/kernel/btf/vmlinux format c >"$tmp" || die "bpftool btf dump of /sys/kernel/btf/vmlinux failed"
if ! cmp -s "$tmp" "$CORPUS/vmlinux.h"; then
  echo "  GEN     $CORPUS/vmlinux.h"
  mv "$tmp" "$CORPUS/vmlinux.h"
fi

built=0
for src in "$CORPUS"/*.bpf.c; do
  name=$(basename "$src" .bpf.c)
  obj=$OUT/$name.o
  deps=("$src" "$0")
  # Only CO-RE sources depend on vmlinux.h.
  if grep -q '"vmlinux.h"' "$src"; then deps+=("$CORPUS/vmlinux.h"); fi
  stale=0
  [ -f "$obj" ] || stale=1
  for d in "${deps[@]}"; do if [ "$d" -nt "$obj" ]; then stale=1; fi; done
  [ "$stale" = 1 ] || continue
  echo "  CLANG   $src -> $obj"
  if ! "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$obj.tmp"; then
    rm -f "$obj.tmp"
    die "compiling $src failed (compiler output above)"
  fi
  mv "$obj.tmp" "$obj"
  built=$((built + 1))
done
echo "  corpus: $built object(s) rebuilt in $OUT"
