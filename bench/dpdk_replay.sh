#!/usr/bin/env bash
# The DPDK replay harness: flowgate in dpdk mode on a net_pcap vdev that loops a capture
# (infinite_rx=1) for a fixed time, 1 worker lcore + 1 exporter lcore, JSON to /dev/null, once
# with aggregation off and once on; then the same loop on net_null (zero-filled frames that are
# parsed and dropped) to show the loop's own ceiling. Reads /metrics at the end of each run
# and prints one Markdown row per run: frames/s, records/s decoded, records/s written, drops,
# and CPU nanoseconds per decoded record (worker + exporter + everything else in the process),
# all measured over the same window after start-up. With aggregation on, records are written
# only when keys flush (every 10 s at the earliest), so "written" is what flushed in the window.
#
#   bench/dpdk_replay.sh [BUILD_DIR]        (default build/; needs build/flowgate)
# Environment: SECONDS_RUN [10], FLOWS per protocol in the generated capture [20000],
#              PROTOCOLS [v9,ipfix], CAPTURE (use this pcap instead of generating one),
#              PERF_DIR (record `perf` over each measured window into PERF_DIR/<device>-<agg>.data).
# Nothing is sent anywhere: vdevs only. Every run stops by itself (SIGTERM after SECONDS_RUN).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build="${1:-build}"
flowgate="$build/flowgate"
seconds="${SECONDS_RUN:-10}"
flows="${FLOWS:-20000}"
protocols="${PROTOCOLS:-v9,ipfix}"
[[ -x "$flowgate" ]] || { echo "missing $flowgate: scripts/build.sh" >&2; exit 2; }

tmp="$(mktemp -d)"
pid=""
cleanup() {
  kill_left "$pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

capture="${CAPTURE:-$tmp/replay.pcap}"
[[ -n "${CAPTURE:-}" ]] || scripts/gen_pcap.py -o "$capture" --flows "$flows" --protocols "$protocols" >/dev/null
frames_in_capture="$(python3 -c 'import sys
d = open(sys.argv[1], "rb").read(); o = 24; n = 0
while o + 16 <= len(d):
    o += 16 + int.from_bytes(d[o + 8:o + 12], "little"); n += 1
print(n)' "$capture")"
mbufs=$(( frames_in_capture + 8192 ))

metrics_port="$(free_port SOCK_STREAM)"

metric() {  # sum of a metric over its label sets: in the end file minus the start file
  local end start
  end="$(awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f", s }' "$tmp/metrics")"
  start="$(awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f", s }' "$tmp/metrics0")"
  echo $(( end - start ))
}

cpu_ns() {  # utime + stime of the process, ns
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"
}

run() {  # name device aggregation
  local name="$1" device="$2" aggregation="$3"
  cat > "$tmp/flowgate.conf" <<CONF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = 2055
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = 4739
[collector]
mode = "dpdk"
[collector.dpdk]
devices = ["$device"]
mbufs = $mbufs
burst = 64
[aggregation]
enabled = $aggregation
flush_interval = "2s"
[[outputs]]
type = "file"
path = "/dev/null"
batch_records = 4096
[metrics]
listen = "127.0.0.1:$metrics_port"
CONF
  "$flowgate" -c "$tmp/flowgate.conf" > /dev/null 2> "$tmp/err" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "dpdk mode:" "$tmp/err" && break
    sleep 0.1
  done
  local cpu0 cpu1
  sleep 1  # past start-up: the figures are deltas over the measured window
  curl -s "http://127.0.0.1:$metrics_port/metrics" > "$tmp/metrics0"
  cpu0="$(cpu_ns "$pid")"
  if [[ -n "${PERF_DIR:-}" ]]; then
    mkdir -p "$PERF_DIR"
    perf record -q -F 2000 -g -p "$pid" -o "$PERF_DIR/$name-$aggregation.data" -- sleep "$seconds" \
      2>/dev/null
  else
    sleep "$seconds"
  fi
  curl -s "http://127.0.0.1:$metrics_port/metrics" > "$tmp/metrics"
  cpu1="$(cpu_ns "$pid")"
  kill -TERM "$pid"
  wait "$pid" || { echo "flowgate exited with $?" >&2; cat "$tmp/err" >&2; }
  pid=""
  local frames records written drops
  frames="$(metric flowgate_worker_rx_frames_total)"
  records="$(metric flowgate_decode_records_total)"
  written="$(metric flowgate_pipeline_records_written_total)"
  drops=$(( $(metric flowgate_dpdk_port_imissed_total) + $(metric flowgate_dpdk_port_rx_nombuf_total) + $(metric flowgate_worker_ring_full_records_total) + $(metric flowgate_decode_block_unavailable_total) ))
  awk -v name="$name" -v agg="$aggregation" -v s="$seconds" -v f="$frames" -v r="$records" \
      -v w="$written" -v d="$drops" -v c=$(( cpu1 - cpu0 )) 'BEGIN {
    printf "| %s | %s | %.2fM | %.2fM | %.2fM | %d | %s |\n", name, agg, f / s / 1e6, r / s / 1e6,
      w / s / 1e6, d, (r > 0 ? sprintf("%.0f", c / r) : "-") }'
}

echo "capture: $frames_in_capture frames ($protocols, $flows flows per protocol); $seconds s per run"
echo
echo "| device | aggregation | frames/s | records/s decoded | records/s written | drops | CPU ns/record |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run "net_pcap" "net_pcap0,rx_pcap=$capture,infinite_rx=1" false
run "net_pcap" "net_pcap0,rx_pcap=$capture,infinite_rx=1" true
run "net_null" "net_null0" false
