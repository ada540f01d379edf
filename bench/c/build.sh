#!/usr/bin/env bash
# Builds the C (libbpf) peers that iovisor's benchmarks are measured against:
#   bench/c/build/map_bench         map update/lookup, single and batch
#   bench/c/build/ringbuf_consumer  ring-buffer consumer
# Needs gcc and libbpf-dev (scripts/setup.sh installs both). Fails with the compiler's message.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-gcc}
CFLAGS=(-O2 -g -Wall -Wextra -Werror)
mkdir -p build
for prog in map_bench ringbuf_consumer load_bench; do
  if [ ! -f "build/$prog" ] || [ "$prog.c" -nt "build/$prog" ] || [ "$0" -nt "build/$prog" ]; then
    echo "  CC      bench/c/$prog.c -> bench/c/build/$prog"
    "$CC" "${CFLAGS[@]}" -o "build/$prog" "$prog.c" -lbpf
  fi
done
