#!/usr/bin/env bash
# Installs what is missing, builds flowgate and runs it on its embedded default. Until the
# socket collector lands this decodes the bundled sample capture (NetFlow v5, v9 and IPFIX)
# and prints every record as JSON on stdout; arguments replace the default ones.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh >&2
scripts/build.sh release flowgate >&2
if [ $# -eq 0 ]; then
  set -- --pcap tests/data/sample.pcap --no-aggregate
fi
exec build/flowgate "$@"
