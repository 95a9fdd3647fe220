#!/usr/bin/env bash
# Installs every Debian package that flowgate's build, tests and benchmarks need.
# Idempotent and non-interactive: packages already present are skipped, so a second run
# costs only a dpkg query.
set -euo pipefail

packages=(
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
  clickhouse-server
  clang libclang-rt-14-dev
  python3
  tshark
  tcpreplay iproute2 curl
  pmacct nfdump nfdump-sflow   # the peers bench/peer_compare.sh measures flowgate against
  prometheus   # promtool: the alert rules' tests
  chromium     # headless: the dashboard's test
)

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
