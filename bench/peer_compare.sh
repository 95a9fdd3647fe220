#!/usr/bin/env bash
# flowgate and the collectors people use today, measured in one run of ../shared/peerbench:
# nfacctd and nfcapd (NetFlow v9, IPFIX, v5), sfacctd and sfcapd (sFlow), and flowgate in
# socket mode with aggregation on (as shipped) and off, on the same generated traffic from 16
# exporters on loopback, over the harness's rate ladder; runs interleaved across collectors so
# noise spreads evenly. Writes bench/peer-results/<timestamp>/{results.jsonl,summary.md}.
#
#   bench/peer_compare.sh                  (needs build/flowgate; installs pmacct and nfdump
#                                           through scripts/setup.sh when missing)
# Environment: PB_RUNS [3], PROTOS ["v9 ipfix v5 sflow"], PEERS ["nfacctd nfcapd"] (sFlow uses
# sfacctd/sfcapd), plus what peerbench's run_peer.sh reads (PB_RATES, PB_STEP_S, PB_MAX_PKTS,
# PB_RCVBUF, PB_COUNT, PB_SCRATCH: where every collector writes, tmpfs unless given),
# FLOWGATE_MAX_KEYS: when set, one more flowgate row with aggregation on and
# [aggregation] max_keys = FLOWGATE_MAX_KEYS ("flowgate-agg-on-keys<N>"), and
# FLOWGATE_DIRECT_IO: when set, one more with aggregation off and the file output's
# direct_io = true ("flowgate-agg-off-direct_io"), and FLOWGATE_DEV_NULL: when set, one more
# with aggregation off and the JSON written to /dev/null ("flowgate-agg-off-dev_null": the
# encoding and the write calls without a file system's cost). Only loopback is used; every
# trial is bounded by the harness.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
source scripts/lib.sh
pb="$(peerbench_dir)"
[ -x build/flowgate ] || { echo "peer_compare.sh: build/flowgate missing: scripts/build.sh" >&2; exit 2; }
for tool in nfacctd nfcapd sfacctd sfcapd; do
  command -v "$tool" >/dev/null || { scripts/setup.sh; break; }
done

runs="${PB_RUNS:-3}"
protos="${PROTOS:-v9 ipfix v5 sflow}"
peers="${PEERS:-nfacctd nfcapd}"
work="$root/bench/peer-results"
ts="$(date +%Y%m%d-%H%M%S)"
export PB_RESULTS="$work/$ts"
export PB_RCVBUF="${PB_RCVBUF:-8388608}"
mkdir -p "$PB_RESULTS"
ln -sfn "$ts" "$work/latest"
peerbench_inputs "$work"

orig_rmem="$(sysctl -n net.core.rmem_max)"
if [ "$orig_rmem" -lt "$PB_RCVBUF" ]; then sysctl -q -w net.core.rmem_max="$PB_RCVBUF" || true; fi
trap 'sysctl -q -w net.core.rmem_max="$orig_rmem" || true' EXIT

{
  echo "date: $(date -Is)"
  echo "host: $(uname -srm), $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "flowgate: $(git log --oneline -1)"
  echo "runs: $runs  protocols: $protos  peers: $peers  rates: ${PB_RATES:-25000 50000 75000 100000 0}"
  echo "collectors write to: ${PB_SCRATCH:-/dev/shm/peerbench (tmpfs, the harness default)}"
} > "$PB_RESULTS/machine.txt"
cat "$PB_RESULTS/machine.txt"

flowgate_peer() {  # flowgate_peer AGGREGATION PROTO RUN [max_keys=N | direct_io | dev_null]
  local option="${4:-}" label=""
  case "$option" in
    max_keys=*) label="-keys${option#max_keys=}" ;;
    direct_io | dev_null) label="-$option" ;;
  esac
  PEER_NAME="flowgate-agg-$1$label" \
  PEER_CMD="$root/bench/peerbench_flowgate.sh start {port} {out} {proto} {rcvbuf} $1 $option" \
  PEER_COUNT_CMD="$root/bench/peerbench_flowgate.sh count {out}" \
  PEER_PROTOS="v5 v9 ipfix sflow" PEER_STOP_SIGNAL=TERM \
  PEER_VERSION="flowgate $(git log --oneline -1 | cut -c1-7), aggregation $1${option:+, $option}" \
  PB_RUN_IDS="$3" "$pb/run_peer.sh" custom "$2"
}

for run in $(seq 1 "$runs"); do
  for proto in $protos; do
    for peer in $peers; do
      p="$peer"
      if [ "$proto" = sflow ]; then p="${peer/nf/sf}"; fi
      PB_RUN_IDS="$run" "$pb/run_peer.sh" "$p" "$proto" || echo "== $p $proto run $run failed" >&2
    done
    flowgate_peer on "$proto" "$run" || echo "== flowgate (aggregation on) $proto run $run failed" >&2
    flowgate_peer off "$proto" "$run" || echo "== flowgate (aggregation off) $proto run $run failed" >&2
    if [ -n "${FLOWGATE_MAX_KEYS:-}" ]; then
      flowgate_peer on "$proto" "$run" "max_keys=$FLOWGATE_MAX_KEYS" ||
        echo "== flowgate (aggregation on, max_keys $FLOWGATE_MAX_KEYS) $proto run $run failed" >&2
    fi
    if [ -n "${FLOWGATE_DIRECT_IO:-}" ]; then
      flowgate_peer off "$proto" "$run" direct_io ||
        echo "== flowgate (aggregation off, direct_io) $proto run $run failed" >&2
    fi
    if [ -n "${FLOWGATE_DEV_NULL:-}" ]; then
      flowgate_peer off "$proto" "$run" dev_null ||
        echo "== flowgate (aggregation off, /dev/null) $proto run $run failed" >&2
    fi
  done
done
python3 "$pb/pbtool.py" summarize "$PB_RESULTS/results.jsonl" > "$PB_RESULTS/summary.md"
cat "$PB_RESULTS/summary.md"
