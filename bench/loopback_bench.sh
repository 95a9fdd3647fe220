#!/usr/bin/env bash
# Loopback throughput of the socket-mode collector. For each aggregation setting and offered
# rate, starts `flowgate` on a free 127.0.0.1 port, offers NetFlow v9 datagrams with
# flowgate_udp_blaster (bounded by count and time), waits for the collector's socket to drain,
# stops it with SIGTERM and reads its exit summary. Prints one Markdown table row per run:
# records/s decoded, the datagram loss ratio (sent vs decoded), kernel drops, records lost inside
# the collector (blocks unavailable, full rings) and the CPU of its worker and exporter threads.
#
#   bench/loopback_bench.sh [BUILD_DIR]          (default build/; needs flowgate and
#                                                 bench/flowgate_udp_blaster built)
# Environment (defaults in brackets):
#   RATES        offered datagrams/s, 0 = as fast as the sender can   ["20000 50000 100000 0"]
#   AGGREGATION  "off", "on" or both                                   ["off on"]
#   SECONDS_RUN  seconds of sending per run                            [4]
#   RECORDS      NetFlow v9 records per datagram                       [24]
#   FLOWS        distinct flows the sender cycles through              [65536]
#   SOURCES      sender sockets (exporters)                            [4]
#   WORKERS      collector worker threads                              [1]
#   OUTPUT       the file output's path                                [/dev/null]
# Only loopback is used; every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build="${1:-build}"
flowgate="$build/flowgate"
blaster="$build/bench/flowgate_udp_blaster"
rates="${RATES:-20000 50000 100000 0}"
aggregation="${AGGREGATION:-off on}"
seconds="${SECONDS_RUN:-4}"
records="${RECORDS:-24}"
flows="${FLOWS:-65536}"
sources="${SOURCES:-4}"
workers="${WORKERS:-1}"
output="${OUTPUT:-/dev/null}"

for exe in "$flowgate" "$blaster"; do
  [[ -x "$exe" ]] || { echo "missing $exe: ninja -C $build flowgate flowgate_udp_blaster" >&2; exit 2; }
done

tmp="$(mktemp -d)"
collector_pid=""
cleanup() {
  kill_left "$collector_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

# "rx_queue_bytes drops" summed over the UDP sockets bound to local port $1.
socket_state() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v port="$hex" '
    function hex(s,   i, v) { v = 0; for (i = 1; i <= length(s); ++i) v = v * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1; return v }
    FNR > 1 { split($2, local, ":"); split($5, q, ":"); if (local[2] == port) { rx += hex(q[2]); drops += $13 } }
    END { printf "%d %d\n", rx, drops }' /proc/net/udp /proc/net/udp6
}

now() { date +%s.%N; }


socket_empty() { [[ "$(socket_state "$1" | cut -d' ' -f1)" == 0 ]]; }

echo "| aggregation | offered dgram/s | sent dgram/s | records/s decoded | datagram loss | kernel drops | records dropped | records written | worker CPU | exporter CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for agg in $aggregation; do
  for rate in $rates; do
    port="$(free_port)"
    conf="$tmp/flowgate.conf"
    log="$tmp/flowgate.log"
    enabled=false
    [[ "$agg" == on ]] && enabled=true
    cat >"$conf" <<EOF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "netflow9"
    bind_host = "127.0.0.1"
    port = $port
[collector]
workers = $workers
[aggregation]
enabled = $enabled
flush_interval = "300s"
[[outputs]]
type = "file"
path = "$output"
[log]
level = "info"
EOF
    : >"$log"  # exists before the background job opens it, for the readiness check
    "$flowgate" -c "$conf" 2>"$log" >/dev/null &
    collector_pid=$!
    if ! wait_until 10 logged "socket mode" "$log"; then
      echo "flowgate did not start:" >&2
      cat "$log" >&2
      exit 1
    fi

    if [[ "$rate" == 0 ]]; then
      count=$(( 2000000 * seconds ))  # bounded by --duration first
    else
      count=$(( rate * seconds ))
    fi
    t0="$(now)"
    sender="$("$blaster" --port "$port" --rate "$rate" --count "$count" --duration "$seconds" \
              --records "$records" --flows "$flows" --sources "$sources")"
    wait_until 30 socket_empty "$port" || echo "warning: socket not drained" >&2
    t1="$(now)"
    read -r _ drops <<<"$(socket_state "$port")"
    # utime + stime in clock ticks: the worker threads, and the main (exporter) thread.
    worker_ticks=0
    for task in /proc/"$collector_pid"/task/*; do
      if [[ "$(cat "$task/comm")" == fg-worker-* ]]; then
        worker_ticks=$(( worker_ticks + $(awk '{ print $14 + $15 }' "$task/stat") ))
      fi
    done
    exporter_ticks="$(awk '{ print $14 + $15 }' "/proc/$collector_pid/task/$collector_pid/stat")"

    kill -TERM "$collector_pid"
    wait_until 30 logged "exit summary" "$log" || { echo "no exit summary" >&2; cat "$log" >&2; exit 1; }
    wait "$collector_pid" || { echo "flowgate exited with $?" >&2; exit 1; }
    collector_pid=""

    summary="$(grep -o 'exit summary: .*' "$log")"
    [[ -n "${VERBOSE:-}" ]] && { echo "$sender" >&2; echo "$summary" >&2; grep -o "decode .*" "$log" >&2; }
    field() { sed -n "s/.*[ :]$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
    sent="$(field sent "$sender")"
    send_seconds="$(field seconds "$sender")"
    datagrams="$(field datagrams "$summary")"
    decoded="$(field records "$summary")"
    written="$(field written "$summary")"
    dropped="$(field dropped "$summary")"
    hz="$(getconf CLK_TCK)"
    awk -v agg="$agg" -v rate="$rate" -v sent="$sent" -v ss="$send_seconds" -v dg="$datagrams" \
        -v rec="$decoded" -v wr="$written" -v drops="$drops" -v t0="$t0" -v t1="$t1" \
        -v dropped="$dropped" -v wticks="$worker_ticks" -v eticks="$exporter_ticks" -v hz="$hz" 'BEGIN {
      window = t1 - t0;  # first datagram sent .. socket drained
      loss = sent > 0 ? 1 - dg / sent : 0;
      printf "| %s | %s | %.0f | %.0f | %.4f | %d | %d | %d | %.0f%% | %.0f%% |\n", agg,
             rate == 0 ? "max" : rate, sent / ss, rec / window, loss, drops, dropped - drops, wr,
             100 * wticks / hz / window, 100 * eticks / hz / window;
    }'
  done
done
