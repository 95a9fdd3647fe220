#!/bin/sh
# flowgate's container entry point: chooses the packet source, then runs flowgate.
#
#   af_packet mode  when FLOWGATE_INTERFACE names an interface AND CAP_NET_RAW is in this
#                   process's effective capability set (/proc/self/status CapEff, bit 13);
#   socket mode     otherwise (the unprivileged default: UDP sockets on the config's ports).
#
# It says which and why on stderr. flowgate takes its mode from the configuration file only
# ([collector] mode, [collector.af_packet] interface), so when the chosen mode differs from
# the file's, the entry point writes a copy of the file with just those lines changed
# (FLOWGATE_RUN_DIR/flowgate.conf) and runs flowgate on the copy. The file itself is checked
# first, so a mistake in it is reported with its own name and line.
#
# Environment:
#   FLOWGATE_INTERFACE  interface for af_packet mode (unset: socket mode)
#   FLOWGATE_MODE       auto (default: the rule above) | socket | af_packet | config (run the
#                       file's own mode, change nothing)
#   FLOWGATE_CONFIG     configuration file (default /etc/flowgate/flowgate.conf when mounted,
#                       else the image's default FLOWGATE_DEFAULT_CONFIG)
#   FLOWGATE_RUN_DIR    where the changed copy goes (default /tmp; an emptyDir under a
#                       read-only root file system)
#
# Arguments: options (starting with '-') are passed to flowgate after `-c FILE`; anything else
# is run instead of flowgate (`docker run IMAGE sh`). `--dry-run` first: decide, write and check
# the copy, print the command that would run on stdout, and exit (docker/check.sh uses it).
set -eu

bin="${FLOWGATE_BIN:-/usr/local/bin/flowgate}"
default_config="${FLOWGATE_DEFAULT_CONFIG:-/usr/share/flowgate/flowgate.conf}"
run_dir="${FLOWGATE_RUN_DIR:-/tmp}"
status_file="${FLOWGATE_PROC_STATUS:-/proc/self/status}"  # tests substitute a file
interface="${FLOWGATE_INTERFACE:-}"
requested="${FLOWGATE_MODE:-auto}"

say() { echo "entrypoint: $*" >&2; }
fail() {
  say "$*"
  exit 2
}

dry_run=false
if [ "${1:-}" = "--dry-run" ]; then
  dry_run=true
  shift
fi
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  exec "$@"
fi

if [ -n "${FLOWGATE_CONFIG:-}" ]; then
  config="$FLOWGATE_CONFIG"
  [ -f "$config" ] || fail "FLOWGATE_CONFIG=$config: no such file (mount the configuration there)"
  origin="FLOWGATE_CONFIG"
elif [ -f /etc/flowgate/flowgate.conf ]; then
  config=/etc/flowgate/flowgate.conf
  origin="mounted"
else
  config="$default_config"
  origin="the image's default; mount yours at /etc/flowgate/flowgate.conf"
fi

case "$interface" in
  *[!A-Za-z0-9._@:-]*) fail "FLOWGATE_INTERFACE=$interface: expected an interface name (letters, digits, . _ - @ :)" ;;
esac

# A capability set from /proc/self/status as hex; bit 13 is CAP_NET_RAW (linux/capability.h).
cap_set() { awk -v key="$1:" '$1 == key { print $2 }' "$status_file"; }
has_net_raw() { [ -n "$1" ] && [ $(((0x$1 >> 13) & 1)) -eq 1 ]; }
cap_eff="$(cap_set CapEff)"
cap_bnd="$(cap_set CapBnd)"
uid="$(awk '$1 == "Uid:" { print $3 }' "$status_file")"  # effective uid

# The file's own mode, from its [collector] table (socket when it names none).
file_mode="$(awk '
  /^[ \t]*\[/ { table = $0; sub(/^[ \t]*\[+[ \t]*/, "", table); sub(/[ \t]*\].*$/, "", table); next }
  table == "collector" && /^[ \t]*mode[ \t]*=/ {
    v = $0; sub(/^[^=]*=[ \t]*"/, "", v); sub(/".*$/, "", v); print v; exit
  }' "$config")"
file_mode="${file_mode:-socket}"

case "$requested" in
  auto)
    if [ "$file_mode" = dpdk ]; then
      mode=dpdk
      why="the configuration asks for dpdk mode"
    elif [ -z "$interface" ]; then
      mode=socket
      why="FLOWGATE_INTERFACE is not set (set it and grant CAP_NET_RAW for af_packet mode)"
    elif has_net_raw "$cap_eff"; then
      mode=af_packet
      why="FLOWGATE_INTERFACE=$interface and CAP_NET_RAW is in the effective capability set"
    else
      mode=socket
      why="FLOWGATE_INTERFACE=$interface but CAP_NET_RAW is not in the effective capability set (CapEff=$cap_eff)"
      if has_net_raw "$cap_bnd" && [ "$uid" != 0 ]; then
        why="$why; the container has it but runs as uid $uid, and a runtime hands capabilities to uid 0 only: run as user 0 with only NET_RAW added"
      else
        why="$why; add it (docker run --cap-add NET_RAW, or securityContext.capabilities.add: [NET_RAW])"
      fi
    fi
    ;;
  socket | af_packet)
    mode="$requested"
    why="FLOWGATE_MODE=$requested"
    if [ "$mode" = af_packet ]; then
      [ -n "$interface" ] || fail "FLOWGATE_MODE=af_packet needs FLOWGATE_INTERFACE (the interface to read)"
      has_net_raw "$cap_eff" ||
        say "warning: CAP_NET_RAW is not in the effective capability set; flowgate will refuse to start"
    fi
    ;;
  config)
    mode="$file_mode"
    why="FLOWGATE_MODE=config: the configuration file's own mode"
    ;;
  *)
    fail "FLOWGATE_MODE=$requested is not a choice; expected auto, socket, af_packet or config"
    ;;
esac

where="$config ($origin)"
if [ "$mode" = af_packet ] && [ -n "$interface" ]; then
  say "af_packet mode on $interface: $why; configuration $where"
else
  say "$mode mode: $why; configuration $where"
fi

if [ -x "$bin" ] && ! "$bin" -c "$config" --check-config >/dev/null; then
  fail "$config is not valid (above); flowgate was not started"
fi

# The file with [collector] mode (and in af_packet mode [collector.af_packet] interface) set.
# Lines are replaced in place where they exist; a missing key goes at the end of its table, a
# missing table at the end of the file.
run_config="$config"
if [ "$requested" != config ] && [ "$mode" != dpdk ] &&
  ! { [ "$mode" = socket ] && [ "$file_mode" = socket ]; }; then
  mkdir -p "$run_dir"
  overlay="$run_dir/flowgate.conf"
  [ "$overlay" != "$config" ] || fail "FLOWGATE_RUN_DIR=$run_dir holds the configuration itself; choose another directory"
  set_iface=""
  [ "$mode" = af_packet ] && set_iface="$interface"
  awk -v mode="$mode" -v iface="$set_iface" '
    function close_table() {
      if (table == "collector" && !mode_done) { print "mode = \"" mode "\""; mode_done = 1 }
      if (table == "collector.af_packet" && iface != "" && !iface_done) {
        print "interface = \"" iface "\""; iface_done = 1
      }
    }
    /^[ \t]*\[/ {
      close_table()
      table = $0; sub(/^[ \t]*\[+[ \t]*/, "", table); sub(/[ \t]*\].*$/, "", table)
      if (table == "collector") seen_collector = 1
      if (table == "collector.af_packet") seen_af_packet = 1
      print; next
    }
    function value(line) { sub(/^[^=]*=[ \t]*"/, "", line); sub(/".*$/, "", line); return line }
    table == "collector" && /^[ \t]*mode[ \t]*=/ {
      mode_done = 1
      print (value($0) == mode ? $0 : "mode = \"" mode "\""); next
    }
    table == "collector.af_packet" && iface != "" && /^[ \t]*interface[ \t]*=/ {
      iface_done = 1
      print (value($0) == iface ? $0 : "interface = \"" iface "\""); next
    }
    { print }
    END {
      close_table()
      if (!seen_collector) { print ""; print "[collector]"; print "mode = \"" mode "\"" }
      if (iface != "" && !seen_af_packet) {
        print ""; print "[collector.af_packet]"; print "interface = \"" iface "\""
      }
    }' "$config" >"$overlay.new"
  mv "$overlay.new" "$overlay"
  if cmp -s "$overlay" "$config"; then
    rm -f "$overlay"
  else
    run_config="$overlay"
    say "running on $overlay: $config with [collector] mode = \"$mode\"${set_iface:+ and [collector.af_packet] interface = \"$set_iface\"}"
    if [ -x "$bin" ] && ! "$bin" -c "$overlay" --check-config >/dev/null; then
      fail "could not set the mode in $config: the entry point edits [collector] mode and [collector.af_packet] interface lines; write them yourself and set FLOWGATE_MODE=config"
    fi
  fi
fi

if $dry_run; then
  echo "$bin -c $run_config${*:+ $*}"
  exit 0
fi
exec "$bin" -c "$run_config" "$@"
