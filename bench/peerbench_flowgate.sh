#!/usr/bin/env bash
# flowgate as a peer of ../shared/peerbench (through its peers/custom.sh):
#
#   peerbench_flowgate.sh start PORT OUT PROTO RCVBUF AGGREGATION [max_keys=N]
#                              [direct_io|dev_null] [rollup_off]
#       runs flowgate in the foreground: socket mode, one listener on 127.0.0.1:PORT for PROTO
#       (v5 v9 ipfix sflow), 1 worker, SO_RCVBUF = RCVBUF (as every peer is given), aggregation
#       on|off as shipped otherwise ([aggregation] max_keys = N when given), JSON records to
#       OUT/flows.jsonl (with direct_io = true when given; to /dev/null with dev_null, so every
#       record is still encoded and written but no file system takes it), port roll-up off with
#       rollup_off (port_rollup_threshold = 0: what the roll-up costs), log to OUT/flowgate.log
#   peerbench_flowgate.sh count OUT    prints the flow records flowgate decoded (the exit
#       summary's records=), after it exited
#
# Environment: FLOWGATE (the binary) [build/flowgate beside this script's checkout],
#   FLOWGATE_RECEIVE_COALESCE ([collector] receive_coalesce, e.g. "2ms") [the shipped default].
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
flowgate="${FLOWGATE:-$here/build/flowgate}"

case "${1:-}" in
  start)
    port="$2" out="$3" proto="$4" rcvbuf="$5" aggregation="$6" max_keys="" direct_io=""
    rollup_off=""
    path="$out/flows.jsonl"
    for option in "${@:7}"; do
      case "$option" in
        max_keys=*) max_keys="${option#max_keys=}" ;;
        direct_io) direct_io=true ;;
        dev_null) path=/dev/null ;;
        rollup_off) rollup_off=true ;;
        *) echo "unknown option $option" >&2; exit 2 ;;
      esac
    done
    case "$proto" in
      v5) type=netflow5 ;; v9) type=netflow9 ;; ipfix) type=ipfix ;; sflow) type=sflow5 ;;
      *) echo "unknown protocol $proto" >&2; exit 2 ;;
    esac
    enabled=false; [ "$aggregation" = on ] && enabled=true
    mkdir -p "$out"
    cat > "$out/flowgate.conf" <<CONF
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
    flow_type = "$type"
    bind_host = "127.0.0.1"
    port = $port
[collector]
workers = 1
receive_buffer_bytes = $rcvbuf
${FLOWGATE_RECEIVE_COALESCE:+receive_coalesce = \"$FLOWGATE_RECEIVE_COALESCE\"}
[aggregation]
enabled = $enabled
${max_keys:+max_keys = $max_keys}
${rollup_off:+port_rollup_threshold = 0}
[[outputs]]
type = "file"
path = "$path"
batch_records = 4096
${direct_io:+direct_io = true}
[metrics]
listen = ""
CONF
    exec "$flowgate" -c "$out/flowgate.conf" 2> "$out/flowgate.log"
    ;;
  count)
    sed -n 's/.*exit summary: datagrams=[0-9]* records=\([0-9]*\).*/\1/p' "$2/flowgate.log" | tail -1
    ;;
  *)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac
