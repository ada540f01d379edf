#!/usr/bin/env bash
# The main demo: installs everything, then applies examples/topology/demo.yaml (three hosts, a
# bridge, a router and a monitor as IO modules chained in the kernel), sends real ping and UDP
# traffic between the hosts, prints the monitor's live counters, and removes it all.
# `bash scripts/demo.sh xdp-counter` runs the smaller engine demo instead (one XDP counter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
case "${1:-topology}" in
  topology) exec node dist/examples/topology/demo.js ;;
  xdp-counter) shift; exec node dist/examples/xdp-counter/demo.js "$@" ;;
  *) echo "usage: bash scripts/demo.sh [topology|xdp-counter]" >&2; exit 2 ;;
esac
