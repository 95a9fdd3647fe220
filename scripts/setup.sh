#!/usr/bin/env bash
# Installs the Debian packages that flowgate needs.
#   scripts/setup.sh          everything: build, run, tests and benchmarks
#   scripts/setup.sh build    only what a Release build and its run need (docker/Dockerfile)
# Idempotent and non-interactive: packages already present are skipped, so a second run
# costs only a dpkg query.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

what="${1:-all}"
case "$what" in
  all | build) ;;
  *)
    echo "usage: scripts/setup.sh [build]" >&2
    exit 2
    ;;
esac

build_packages=(
  build-essential cmake pkg-config ninja-build
  libdpdk-dev
  libsimdjson-dev
  libmimalloc-dev
  libtomlplusplus-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  libpcap-dev
  libcurl4-openssl-dev zlib1g-dev
)

test_packages=(
  clickhouse-server
  clang libclang-rt-14-dev
  python3
  python3-yaml   # tests/app/container_manifest_test.cpp reads the Kubernetes manifests with it
  tshark
  tcpreplay iproute2 curl
  pmacct nfdump nfdump-sflow   # the peers bench/peer_compare.sh measures flowgate against
  prometheus   # promtool: the alert rules' tests
  chromium     # headless: the dashboard's test
)

# The runtime list is shared with docker/Dockerfile: one place says what the binary needs.
mapfile -t runtime_packages < <(sed 's/#.*//' "$here/runtime-packages.txt" | tr -s '[:space:]' '\n' |
                                sed '/^$/d')

packages=("${build_packages[@]}" "${runtime_packages[@]}")
[ "$what" = all ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it so the install never prompts.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
