#!/usr/bin/env bash
# Soak: the socket-mode collector under a steady load for a long time, to see memory that
# creeps and records that go missing — what a short test cannot. Not run by CI.
#
#   scripts/soak.sh [SECONDS]        (default 600; e.g. scripts/soak.sh 180)
#
# Builds build/flowgate and build/bench/flowgate_udp_blaster if missing, starts flowgate on a
# free 127.0.0.1 port (aggregation on, JSON to /dev/null, template persistence saving every
# 5 s to a temporary directory), and replays a corpus capture with flowgate_udp_blaster at a
# steady paced rate, in whole passes over the capture. Every INTERVAL seconds it samples the
# collector's VmRSS (/proc/PID/status) and the records it has decoded (/metrics). At the end it
# stops the collector with SIGTERM and prints RSS over time and the records lost: sent passes x
# records per pass (from `flowgate --pcap` of the same capture) minus records decoded, plus
# what the exit summary counts as dropped. Exits non-zero if any record was lost.
# Environment (defaults in brackets):
#   RATE      datagrams/s offered                                          [2000]
#   INTERVAL  seconds between samples                                      [10]
#   CAPTURE   capture replayed   [../shared/corpus/graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap]
#   WORKERS   collector worker threads                                     [1]
#   BLASTER   the sender binary                      [build/bench/flowgate_udp_blaster]
# Only loopback is used; the run is bounded by SECONDS (plus at most 60 s to drain and stop).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds="${1:-600}"
rate="${RATE:-2000}"
interval="${INTERVAL:-10}"
capture="${CAPTURE:-../shared/corpus/graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap}"
workers="${WORKERS:-1}"
flowgate=build/flowgate
blaster="${BLASTER:-build/bench/flowgate_udp_blaster}"

[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "usage: scripts/soak.sh [SECONDS]" >&2; exit 2; }
[[ -f "$capture" ]] || { echo "no capture $capture (CAPTURE=...)" >&2; exit 2; }
if [[ ! -x "$flowgate" || ! -x "$blaster" ]]; then
  scripts/build.sh release flowgate flowgate_udp_blaster
fi

tmp="$(mktemp -d)"
collector_pid=""
blaster_pid=""
cleanup() {
  kill_left "$blaster_pid" "$collector_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

field() { sed -n "s/.*[ :]$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
metric() {  # a sample of /metrics, 0 when unreachable
  { curl -s --max-time 2 "http://127.0.0.1:$metrics_port/metrics" || true; } |
    awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$collector_pid/status"; }

# Records in one pass over the capture, decoded cold as the live collector's first pass is.
port="$(free_port SOCK_DGRAM)"
metrics_port="$(free_port SOCK_STREAM)"
cat >"$tmp/pcap.conf" <<EOF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    port = $port
[[outputs]]
type = "file"
path = "/dev/null"
EOF
"$flowgate" --pcap "$capture" --no-aggregate -c "$tmp/pcap.conf" 2>"$tmp/pcap.log" >/dev/null
decode_line="$(grep -o 'decode .*' "$tmp/pcap.log" | head -1)"
per_pass="$(field records "$decode_line")"
pass_datagrams="$(field datagrams "$decode_line")"
[[ -n "$per_pass" && "$per_pass" -gt 0 ]] || { echo "no records in $capture:" >&2; cat "$tmp/pcap.log" >&2; exit 1; }

# Whole passes only, so that the records sent are passes x per_pass.
passes=$(( rate * seconds / pass_datagrams ))
(( passes > 0 )) || passes=1
count=$(( passes * pass_datagrams ))

cat >"$tmp/flowgate.conf" <<EOF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "auto"
    bind_host = "127.0.0.1"
    port = $port
[collector]
workers = $workers
template_state = "$tmp/templates.state"
template_state_interval = "5s"
[aggregation]
enabled = true
flush_interval = "10s"
[[outputs]]
type = "file"
path = "/dev/null"
[metrics]
listen = "127.0.0.1:$metrics_port"
[log]
level = "info"
EOF
: >"$tmp/flowgate.log"
"$flowgate" -c "$tmp/flowgate.conf" 2>"$tmp/flowgate.log" >/dev/null &
collector_pid=$!
wait_until 10 logged "socket mode" "$tmp/flowgate.log" || { cat "$tmp/flowgate.log" >&2; exit 1; }

echo "soak: $capture, $pass_datagrams datagrams / $per_pass records per pass, $passes passes"
echo "      at $rate datagrams/s for ${seconds}s, $workers worker(s); sampling every ${interval}s"
"$blaster" --port "$port" --rate "$rate" --count "$count" --duration $(( seconds + 60 )) \
  --pcap "$capture" --sources 1 >"$tmp/blaster.out" &
blaster_pid=$!

start=$(date +%s)
samples=()
sample() {
  samples+=("$(( $(date +%s) - start )) $(rss_kib) $(metric flowgate_decode_records_total)")
}
sample
while kill -0 "$blaster_pid" 2>/dev/null; do
  sleep "$interval" & wait $! || true
  kill -0 "$collector_pid" 2>/dev/null || { echo "flowgate died:" >&2; cat "$tmp/flowgate.log" >&2; exit 1; }
  sample
done
wait "$blaster_pid"
blaster_pid=""
sent="$(field sent "$(cat "$tmp/blaster.out")")"
expected=$(( sent / pass_datagrams * per_pass ))
wait_until 30 test "$(metric flowgate_decode_records_total)" -ge "$expected" || true
sample

kill -TERM "$collector_pid"
wait_until 60 logged "exit summary" "$tmp/flowgate.log" || { cat "$tmp/flowgate.log" >&2; exit 1; }
wait "$collector_pid" || { echo "flowgate exited with $?" >&2; exit 1; }
collector_pid=""
summary="$(grep -o 'exit summary: .*' "$tmp/flowgate.log")"
decoded="$(field records "$summary")"
datagrams="$(field datagrams "$summary")"
dropped="$(field dropped "$summary")"

echo
echo "| t (s) | VmRSS (KiB) | records decoded |"
echo "|---:|---:|---:|"
for s in "${samples[@]}"; do
  read -r t r d <<<"$s"
  echo "| $t | $r | $d |"
done
first_rss="$(cut -d' ' -f2 <<<"${samples[1]:-${samples[0]}}")"
last_rss="$(cut -d' ' -f2 <<<"${samples[-1]}")"
lost=$(( expected - decoded + dropped ))
echo
echo "sent $sent datagrams ($(( sent / pass_datagrams )) passes), collector decoded $datagrams datagrams"
echo "records: expected $expected, decoded $decoded, counted dropped $dropped, lost $lost"
echo "VmRSS: $first_rss KiB at the first sample under load, $last_rss KiB at the end"
grep -o 'template state: saved.*' "$tmp/flowgate.log" || true
if (( lost != 0 || sent != count || datagrams != sent )); then
  echo "FAIL: records or datagrams lost" >&2
  exit 1
fi
echo "PASS"
