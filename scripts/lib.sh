# Shell helpers the load scripts share (sourced by bench/*.sh and scripts/soak.sh).

# A free 127.0.0.1 port of socket type $1 (SOCK_DGRAM, the default, or SOCK_STREAM).
free_port() {
  python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.${1:-SOCK_DGRAM}); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# Waits at most $1 seconds until the command that follows succeeds; fails if it never does.
wait_until() {
  local limit=$1
  shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.02
  done
}

# SIGKILLs each process id given that is still running (an EXIT trap's clean-up after a
# failed run; empty ids are skipped).
kill_left() {
  local p
  for p in "$@"; do
    if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  return 0
}

# Whether file $2 holds the text $1.
logged() { grep -qs "$1" "$2"; }

# ../shared/peerbench beside the checkout; fails, saying so, when it is missing.
peerbench_dir() {
  local pb
  pb="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/peerbench"
  [ -d "$pb" ] || { echo "$pb is missing" >&2; return 1; }
  echo "$pb"
}

# peerbench's generated traffic and sender (../shared/peerbench), made once under $1:
# $1/data/<proto>.bin (PB_COUNT datagrams per protocol, seed 1; regenerated when gen_flows.py
# or the count changes) and $1/blast. Exports PB_DATA and PB_BLAST.
peerbench_inputs() {
  local work=$1 pb
  pb="$(peerbench_dir)" || return 1
  export PB_DATA="$work/data" PB_BLAST="$work/blast"
  mkdir -p "$PB_DATA"
  [ -x "$PB_BLAST" ] || cc -O2 -o "$PB_BLAST" "$pb/blast.c"
  local count="${PB_COUNT:-20000}" stamp
  stamp="count=$count seed=1 gen=$(md5sum "$pb/gen_flows.py" | cut -c1-12)"
  if [ "$(cat "$PB_DATA/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$PB_DATA"; mkdir -p "$PB_DATA"
    python3 "$pb/gen_flows.py" --count "$count" --seed 1 --out "$PB_DATA"
    echo "$stamp" > "$PB_DATA/stamp"
  fi
}
