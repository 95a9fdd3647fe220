# Shell helpers the load scripts share (sourced: bench/loopback_bench.sh, scripts/soak.sh).

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

# Whether file $2 holds the text $1.
logged() { grep -qs "$1" "$2"; }
