#!/usr/bin/env bash
# af_packet mode against socket mode on the same veth replay: a network namespace of its own
# with a veth pair (fga -> fgb, private addresses 10.99.0.1/10.99.0.2 inside the namespace
# only), a generated v9 + IPFIX capture rewritten to fgb's MAC and address, replayed onto fga
# by tcpreplay a bounded number of times, once paced and once at top speed, into flowgate on fgb
# with 1 worker, aggregation off and JSON to /dev/null. Prints one Markdown row per run:
# records decoded of those sent, records/s from the replay's start to the last record decoded,
# datagrams the kernel dropped (af_packet ring tp_drops, or the socket buffer's SO_RXQ_OVFL),
# and CPU nanoseconds per decoded record (the whole flowgate process, idle polls included).
#
#   bench/af_packet_vs_socket.sh [BUILD_DIR]        (default build/; needs root, tcpreplay)
# Environment: FLOWS per protocol in the capture [20000], LOOPS of the capture per run [10],
#              PPS for the paced runs [10000].
# Nothing leaves the namespace; it is deleted on exit, and every run ends with its replay.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build="${1:-build}"
flowgate="$(realpath "$build/flowgate")"
flows="${FLOWS:-20000}"
loops="${LOOPS:-10}"
pps="${PPS:-10000}"
[[ -x "$flowgate" ]] || { echo "missing $flowgate: scripts/build.sh" >&2; exit 2; }
[[ "$(id -u)" == 0 ]] || { echo "needs root (ip netns, tcpreplay)" >&2; exit 2; }

ns="fgbench$$"
tmp="$(mktemp -d)"
pid=""
cleanup() {
  kill_left "$pid"
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

in_ns() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
in_ns ip link add fga type veth peer name fgb
for i in fga fgb; do
  in_ns sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
  in_ns sysctl -qw "net.ipv4.conf.$i.rp_filter=0"
  in_ns ip link set "$i" mtu 9000 up
done
in_ns sysctl -qw net.ipv4.conf.all.rp_filter=0
in_ns sysctl -qw net.core.rmem_max=67108864
in_ns ip addr add 10.99.0.1/24 dev fga
in_ns ip addr add 10.99.0.2/24 dev fgb
in_ns ip link set lo up
fgb_mac="$(in_ns cat /sys/class/net/fgb/address)"

scripts/gen_pcap.py -o "$tmp/gen.pcap" --flows "$flows" --protocols v9,ipfix >/dev/null
tcprewrite --infile="$tmp/gen.pcap" --outfile="$tmp/replay.pcap" --enet-dmac="$fgb_mac" \
  --dstipmap=127.0.0.1/32:10.99.0.2/32 --fixcsum
# Records per pass of the capture, as flowgate --pcap decodes them.
cat > "$tmp/pcap.conf" <<CONF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = 2055
[[outputs]]
type = "file"
path = "/dev/null"
CONF
per_pass="$("$flowgate" --pcap "$tmp/replay.pcap" --no-aggregate -c "$tmp/pcap.conf" 2>&1 >/dev/null |
            sed -n 's/.* records=\([0-9]*\) .*/\1/p' | head -1)"
metrics_port=9479

metric() {  # sum of a metric over its label sets
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f", s }' "$tmp/metrics"
}
cpu_ns() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"; }
now_ns() { date +%s%N; }

run() {  # mode pacing
  local mode="$1" pacing="$2"
  cat > "$tmp/flowgate.conf" <<CONF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = 2055
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = 4739
[collector]
mode = "$mode"
workers = 1
[collector.af_packet]
interface = "fgb"
[aggregation]
enabled = false
[[outputs]]
type = "file"
path = "/dev/null"
batch_records = 4096
[metrics]
listen = "127.0.0.1:$metrics_port"
CONF
  ip netns exec "$ns" "$flowgate" -c "$tmp/flowgate.conf" > /dev/null 2> "$tmp/err" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "metrics on" "$tmp/err" && break
    sleep 0.1
  done
  local cpu0 cpu1 t0 t1=0 records=0 expected=$(( per_pass * loops )) last=-1
  cpu0="$(cpu_ns "$pid")"
  t0="$(now_ns)"
  in_ns tcpreplay -q -i fga $pacing --loop "$loops" "$tmp/replay.pcap" > /dev/null 2>&1
  # Until every record is decoded, or none came for a second (the rest was dropped); bounded.
  local quiet=0
  for _ in $(seq 2000); do
    in_ns curl -s "http://127.0.0.1:$metrics_port/metrics" > "$tmp/metrics"
    records="$(metric flowgate_decode_records_total)"
    if [[ "$records" == "$last" ]]; then quiet=$(( quiet + 1 )); else quiet=0; t1="$(now_ns)"; fi
    [[ "$records" -ge "$expected" ]] && break
    [[ "$quiet" -ge 20 ]] && break
    last="$records"
    sleep 0.05
  done
  cpu1="$(cpu_ns "$pid")"
  kill -TERM "$pid"
  wait "$pid" || { echo "flowgate exited with $?" >&2; cat "$tmp/err" >&2; }
  pid=""
  local drops
  drops="$(metric flowgate_worker_kernel_drops_total)"
  awk -v m="$mode" -v p="$pacing" -v r="$records" -v e="$expected" -v d="$drops" \
      -v s=$(( t1 - t0 )) -v c=$(( cpu1 - cpu0 )) 'BEGIN {
    printf "| %s | %s | %d / %d | %.2fM | %d | %s |\n", m, p, r, e, r / (s / 1e9) / 1e6, d,
      (r > 0 ? sprintf("%.0f", c / r) : "-") }'
}

echo "capture: $(basename "$tmp/replay.pcap") with $per_pass records per pass (v9 + IPFIX, $flows flows per protocol), $loops passes per run"
echo
echo "| mode | tcpreplay | records decoded / sent | records/s | kernel drops (datagrams) | CPU ns/record |"
echo "| --- | --- | --- | --- | --- | --- |"
for pacing in "--pps=$pps" "--topspeed"; do
  run af_packet "$pacing"
  run socket "$pacing"
done
