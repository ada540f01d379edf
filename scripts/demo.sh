#!/usr/bin/env bash
# The main demo: installs everything, then loads a packet counter, attaches it inside a pair of
# network namespaces, sends real traffic and prints live counters read from its map.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/examples/xdp-counter/demo.js "$@"
