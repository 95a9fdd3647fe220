#!/usr/bin/env bash
# CPU per flowgate thread on peerbench's generated traffic at a fixed rate: flowgate as
# peer_compare.sh runs it (bench/peerbench_flowgate.sh: socket mode, 1 worker, one listener on
# a free 127.0.0.1 port, the 8 MiB receive buffer peerbench gives every peer, aggregation
# AGGREGATION with max_keys MAX_KEYS, JSON to a file in OUT_ROOT, /dev/shm unless given),
# DATAGRAMS datagrams sent by peerbench's blast at RATE per second from its 16 exporters. Prints
# each thread's user and system CPU over the send (utime/stime from /proc/PID/task/*/stat, 10 ms
# ticks) and the exit summary. Bounded: one blast of DATAGRAMS, then SIGTERM.
#
#   bench/thread_cpu.sh [RATE [DATAGRAMS [PROTO]]]     (defaults 50000 100000 v9; PROTO v9|ipfix)
# Environment: FLOWGATE [build/flowgate], MAX_KEYS [the shipped default], AGGREGATION [on|off],
#              DIRECT_IO (non-empty: the file output with direct_io = true), DEV_NULL
#              (non-empty: the records to /dev/null, encoded and written but kept by no file
#              system, as peer_compare.sh's FLOWGATE_DEV_NULL row), ROLLUP [on|off:
#              port_rollup_threshold = 0, to see what the roll-up costs], OUT_ROOT
#              [/dev/shm; the page cache's cost differs per file system], PERF_DATA (record
#              `perf` over the send into this file, PERF_FREQ [2000] samples a second).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
rate="${1:-50000}" datagrams="${2:-100000}" proto="${3:-v9}"
flowgate="$(realpath "${FLOWGATE:-build/flowgate}")"
[[ -x "$flowgate" ]] || { echo "missing $flowgate: scripts/build.sh" >&2; exit 2; }
case "$proto" in v9 | ipfix) ;; *) echo "PROTO: v9 or ipfix" >&2; exit 2 ;; esac
peerbench_inputs "$(pwd)/bench/peer-results"
out="$(mktemp -d "${OUT_ROOT:-/dev/shm}/flowgate-thread-cpu.XXXXXX")"
pid=""
cleanup() {
  kill_left "$pid"
  rm -rf "$out"
}
trap cleanup EXIT
port="$(free_port)"
options=()
[[ "${ROLLUP:-on}" == off ]] && options+=(rollup_off)
[[ -n "${DEV_NULL:-}" ]] && options+=(dev_null)
# The very configuration peer_compare.sh runs flowgate with (bench/peerbench_flowgate.sh).
FLOWGATE="$flowgate" bench/peerbench_flowgate.sh start "$port" "$out" "$proto" 8388608 \
  "${AGGREGATION:-on}" ${MAX_KEYS:+"max_keys=$MAX_KEYS"} ${DIRECT_IO:+direct_io} \
  ${options[@]+"${options[@]}"} &
pid=$!
wait_until 10 logged "socket mode" "$out/flowgate.log" || { cat "$out/flowgate.log" >&2; exit 1; }
threads() { for t in /proc/"$pid"/task/*; do echo "$(cat "$t/comm") $(cut -d' ' -f14,15 "$t/stat")"; done | sort; }
threads > "$out/before"
process_cpu() { cut -d' ' -f14,15 "/proc/$pid/stat"; }
process_cpu > "$out/process_before"
perf_pid=""
if [[ -n "${PERF_DATA:-}" ]]; then
  perf record -q -F "${PERF_FREQ:-2000}" -g -p "$pid" -o "$PERF_DATA" 2>/dev/null &
  perf_pid=$!
fi
"$PB_BLAST" -f "$PB_DATA/$proto.bin" -p "$port" -n "$datagrams" -r "$rate" -q
sleep 1  # the socket drains
threads > "$out/after"
process_cpu > "$out/process_after"
if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
kill -TERM "$pid"
wait "$pid"
pid=""
join "$out/before" "$out/after" |
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%-16s user %5.2f s  sys %5.2f s\n", $1, ($4 - $2) / hz, ($5 - $3) / hz }'
paste -d' ' "$out/process_before" "$out/process_after" |
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%-16s user %5.2f s  sys %5.2f s\n", "(process)", ($3 - $1) / hz, ($4 - $2) / hz }'
sed -n 's/.*\(exit summary: .*\)/\1/p' "$out/flowgate.log"
