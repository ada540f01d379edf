#!/usr/bin/env bash
# Installs everything iovisor needs on a Debian machine (run as root) and builds it.
# Fails loudly, naming what could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: iovisor loads eBPF programs into the kernel"

# Debian packages: tool → package that provides it.
declare -A NEED=(
  [clang]=clang [llc]=llvm [llvm-objdump]=llvm [bpftool]=bpftool [ip]=iproute2
  [tshark]=tshark [gcc]=gcc [make]=make [ping]=iputils-ping [pkg-config]=pkg-config
  [chromium]=chromium [stdbuf]=coreutils [ss]=iproute2
)
missing=()
for tool in "${!NEED[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("${NEED[$tool]}"); done
[ -f /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
[ -x /usr/sbin/opensnoop ] || missing+=(libbpf-tools) # peers of iovisor trace's tools
[ -f /usr/include/gelf.h ] || missing+=(libelf-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ -d /usr/include/x86_64-linux-gnu/asm ] || [ "$(uname -m)" != x86_64 ] || missing+=(linux-libc-dev)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections 2>/dev/null || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

command -v node >/dev/null || die "node is not installed (Node.js 20 or newer is required)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node.js 20 or newer is required, found $(node --version)"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
fi

# bpffs holds pinned maps, programs and links.
if ! mountpoint -q /sys/fs/bpf; then
  say "mounting bpffs at /sys/fs/bpf"
  mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf"
fi

# tracefs: tracepoint ids and uprobe events live there.
if [ ! -d /sys/kernel/tracing/events ] && ! mountpoint -q /sys/kernel/tracing; then
  say "mounting tracefs at /sys/kernel/tracing"
  mount -t tracefs tracefs /sys/kernel/tracing || die "cannot mount tracefs at /sys/kernel/tracing"
fi

say "building (tsc)"
npx tsc -p tsconfig.json || die "type-check failed"
bash scripts/build-testdata.sh || die "building the eBPF test corpus failed"
bash scripts/build-trace.sh || die "building the tracing tools' eBPF programs failed"
bash bench/c/build.sh >/dev/null || die "building the C benchmark peers (bench/c) failed"
