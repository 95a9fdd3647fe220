#!/usr/bin/env bash
# Installs what is missing, builds flowgate and runs the collector on its embedded default
# (socket mode, config/flowgate.conf: listeners on 2055/2056/4739/6343, JSON lines on stdout).
# Arguments are passed to flowgate instead, e.g. `scripts/run.sh --pcap tests/data/sample.pcap`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh >&2
scripts/build.sh release flowgate >&2
exec build/flowgate "$@"
