#!/usr/bin/env bash
# Installs everything svcbench needs from Debian's archive (idempotent: apt-get runs only when a
# package is missing), then configures and builds it.
#
#   scripts/setup.sh              # Release build in ./build
#   BUILD_TYPE=Debug BUILD_DIR=build-debug scripts/setup.sh
#   SETUP_SKIP_BUILD=1 scripts/setup.sh   # packages only
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config git
  # libraries (found with find_package / pkg-config)
  libbenchmark-dev libgtest-dev libgmock-dev
  libiptc-dev libip4tc-dev libnftnl-dev libmnl-dev
  libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev
  libgnuplot-iostream-dev libboost-iostreams-dev libboost-filesystem-dev libsqlite3-dev
  # runtime tools the backends and tests drive
  iptables nftables iproute2 conntrack gnuplot-nox
  # formatting
  clang-format
  # tools the report tests feed svcbench's outputs to (they skip without them): Google
  # Benchmark's compare.py (needs scipy) for benchmark.json, prometheus_client's parsers for
  # metrics.prom
  libbenchmark-tools python3-scipy python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 3
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ -n ${SETUP_SKIP_BUILD:-} ]]; then
  exit 0
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup.sh: built $BUILD_TYPE into $BUILD_DIR/ (binary: $BUILD_DIR/svcbench)" >&2
