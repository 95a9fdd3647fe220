#!/usr/bin/env bash
# Checks the container image's logic on a host with no container engine (CTest runs it):
#   1. docker/entrypoint.sh decides on this host, in dry-run mode: af_packet with CAP_NET_RAW,
#      socket mode without it (setpriv drops it), as an unprivileged user and with no interface;
#      the configuration it hands flowgate passes `flowgate --check-config`;
#   2. every package of scripts/runtime-packages.txt exists in Debian (apt-cache show);
#   3. those packages and their dependencies provide every shared library the binary loads
#      (ldd -> dpkg -S);
#   4. docker/Dockerfile's COPY sources exist, the paths the entry point uses are the ones the
#      Dockerfile installs, its default configuration builds from config/flowgate.conf, and its
#      EXPOSE and HEALTHCHECK ports are the configuration's.
# Usage: docker/check.sh [FLOWGATE_BINARY]     (default build/flowgate). The capability cases
# need root; without it they are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bin="$(realpath "${1:-build/flowgate}")"
dockerfile=docker/Dockerfile
entrypoint="$root/docker/entrypoint.sh"
list=scripts/runtime-packages.txt

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
[ -x "$bin" ] || { echo "check.sh: $bin is not an executable (build flowgate first)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# The image's default configuration, made the way the Dockerfile makes it.
sed 's/^listen = "127\.0\.0\.1:9108"/listen = "0.0.0.0:9108"/' config/flowgate.conf >"$tmp/default.conf"
chmod 644 "$tmp/default.conf"
if grep -q '^listen = "0\.0\.0\.0:9108"' "$tmp/default.conf" &&
  "$bin" -c "$tmp/default.conf" --check-config >/dev/null; then
  pass "the image's default configuration (config/flowgate.conf, metrics on 0.0.0.0:9108) is valid"
else
  fail "the Dockerfile's edit of config/flowgate.conf no longer applies or the result is invalid"
fi

# ---- 1. the entry point's decision -----------------------------------------------------------
case_no=0
# expect MODE REASON_REGEX -- [ENV=VALUE...] [COMMAND PREFIX...]: runs the entry point's dry run.
expect() {
  local mode="$1" reason="$2"
  shift 3
  case_no=$((case_no + 1))
  local run_dir="$tmp/run$case_no"
  mkdir -p "$run_dir" && chmod 1777 "$run_dir"
  local out
  if ! out="$(env FLOWGATE_BIN="$bin" FLOWGATE_DEFAULT_CONFIG="$tmp/default.conf" \
    FLOWGATE_RUN_DIR="$run_dir" "$@" sh "$entrypoint" --dry-run 2>&1)"; then
    fail "entrypoint case $case_no ($*): exited non-zero: $out"
    return
  fi
  local said config
  said="$(printf '%s\n' "$out" | grep '^entrypoint: [a-z_]* mode' | head -n 1)"
  config="$(printf '%s\n' "$out" | sed -n 's/^.* -c \([^ ]*\).*$/\1/p' | tail -n 1)"
  if [[ "$said" != "entrypoint: $mode mode"* ]] || ! [[ "$said" =~ $reason ]]; then
    fail "entrypoint case $case_no ($*): expected $mode mode because /$reason/, got: $said"
    return
  fi
  if ! grep -Eq "^mode[[:space:]]*=[[:space:]]*\"$mode\"" "$config" ||
    ! "$bin" -c "$config" --check-config >/dev/null 2>&1; then
    fail "entrypoint case $case_no ($*): $config does not select $mode mode or is invalid"
    return
  fi
  if [ "$mode" = af_packet ] && ! grep -q '^interface = "lo"' "$config"; then
    fail "entrypoint case $case_no ($*): $config does not name interface lo"
    return
  fi
  pass "entrypoint: ${said#entrypoint: }"
}

expect socket "FLOWGATE_INTERFACE is not set" -- FLOWGATE_INTERFACE=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  expect af_packet "CAP_NET_RAW is in the effective capability set" -- FLOWGATE_INTERFACE=lo
  expect socket "CAP_NET_RAW is not in the effective capability set.*--cap-add NET_RAW" -- \
    FLOWGATE_INTERFACE=lo setpriv --inh-caps=-net_raw --bounding-set=-net_raw
  expect socket "runs as uid 65534.*user 0 with only NET_RAW" -- \
    FLOWGATE_INTERFACE=lo setpriv --reuid=nobody --regid=nogroup --clear-groups
else
  # As the other tests that need root do: say so and go on (CI runs as root).
  echo "SKIP: the cases with and without CAP_NET_RAW need root and setpriv; ran as uid $(id -u)"
fi
expect socket "FLOWGATE_MODE=socket" -- FLOWGATE_INTERFACE=lo FLOWGATE_MODE=socket

# ---- 2. the runtime packages exist -----------------------------------------------------------
mapfile -t packages < <(sed 's/#.*//' "$list" | tr -s '[:space:]' '\n' | sed '/^$/d')
# One apt-cache call (it exits 0 while some names are unknown): compare the names it returns.
apt-cache show --no-all-versions "${packages[@]}" 2>/dev/null | sed -n 's/^Package: //p' |
  sort -u >"$tmp/known"
missing=()
for p in "${packages[@]}"; do grep -qx "$p" "$tmp/known" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  pass "all ${#packages[@]} packages of $list exist in Debian"
else
  fail "$list names packages Debian does not have: ${missing[*]}"
fi

# ---- 3. they provide every shared library the binary loads ----------------------------------
# The closure: the listed packages and everything they depend on (as the image's apt installs).
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${packages[@]}" 2>/dev/null | grep -v '^ ' | tr -d '<>' |
  sort -u >"$tmp/closure"
mapfile -t libs < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
# dpkg knows a file by one spelling; with merged /usr that may be /lib/... or /usr/lib/..., so
# every spelling of every library is asked for in one dpkg call (one call per file is slow).
spellings() {
  local p
  for p in "$1" "$(realpath "$1")"; do
    echo "$p"
    case "$p" in
      /usr/*) echo "${p#/usr}" ;;
      *) echo "/usr$p" ;;
    esac
  done
}
for lib in "${libs[@]}"; do spellings "$lib"; done | sort -u >"$tmp/spellings"
xargs dpkg -S <"$tmp/spellings" 2>/dev/null | sed 's/^\([^:,]*\)[^ ]* \(.*\)$/\2 \1/' |
  sort -u >"$tmp/owners" || true
declare -A owner
while read -r path pkg; do owner[$path]="$pkg"; done <"$tmp/owners"
uncovered=()
sanitizer=()
for lib in "${libs[@]}"; do
  case "$(basename "$lib")" in
    libasan.so* | libubsan.so* | liblsan.so* | libtsan.so*)
      sanitizer+=("$(basename "$lib")")  # a sanitizer build's runtime; the image is Release
      continue
      ;;
  esac
  pkg=""
  for p in $(spellings "$lib"); do
    pkg="${owner[$p]:-}"
    [ -z "$pkg" ] || break
  done
  if [ -z "$pkg" ]; then
    uncovered+=("$lib (no package owns it)")
  elif ! grep -qx "$pkg" "$tmp/closure"; then
    uncovered+=("$lib ($pkg)")
  fi
done
if [ ${#uncovered[@]} -eq 0 ]; then
  pass "the runtime packages provide all ${#libs[@]} shared libraries of $bin${sanitizer[*]:+ (not counting the sanitizer runtime ${sanitizer[*]})}"
else
  fail "shared libraries of $bin that $list does not provide: ${uncovered[*]}"
fi

# ---- 4. the Dockerfile's paths and ports ------------------------------------------------------
bad_copy=()
n_copy=0
while read -r _ args; do
  read -ra words <<<"$args"
  srcs=()
  for w in "${words[@]}"; do [[ "$w" == --* ]] || srcs+=("$w"); done
  unset 'srcs[${#srcs[@]}-1]'  # the destination
  for s in "${srcs[@]}"; do
    n_copy=$((n_copy + 1))
    [ -e "$s" ] || bad_copy+=("$s")
  done
done < <(grep -E '^COPY[[:space:]]' "$dockerfile" | grep -v -- '--from=')
if [ ${#bad_copy[@]} -eq 0 ] && [ "$n_copy" -gt 0 ]; then
  pass "all $n_copy COPY sources of $dockerfile exist"
else
  fail "COPY sources of $dockerfile missing from the checkout: ${bad_copy[*]}"
fi

# What the entry point runs and reads must be what the build stage installs under /out.
entry="$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' "$dockerfile")"
ep_bin="$(sed -n 's/^bin="${FLOWGATE_BIN:-\([^}]*\)}"/\1/p' docker/entrypoint.sh)"
ep_conf="$(sed -n 's/^default_config="${FLOWGATE_DEFAULT_CONFIG:-\([^}]*\)}"/\1/p' docker/entrypoint.sh)"
paths_ok=true
for p in "$entry" "$ep_bin" "$ep_conf"; do
  if [ -z "$p" ] || ! grep -q -- "/out$p\b" "$dockerfile"; then
    fail "$dockerfile does not install '${p:-?}' (ENTRYPOINT, or the entry point's binary or default configuration)"
    paths_ok=false
  fi
done
$paths_ok && pass "the Dockerfile installs $entry, $ep_bin and $ep_conf"

listener_ports="$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]\+\).*/\1/p' config/flowgate.conf | sort -n | tr '\n' ' ')"
exposed_udp="$(grep '^EXPOSE' "$dockerfile" | tr ' ' '\n' | sed -n 's|^\([0-9]\+\)/udp$|\1|p' | sort -n | tr '\n' ' ')"
metrics_port="$(sed -n 's/^listen = "[^"]*:\([0-9]\+\)".*/\1/p' "$tmp/default.conf")"
if [ -n "$listener_ports" ] && [ "$listener_ports" = "$exposed_udp" ] &&
  grep -q "^EXPOSE.* $metrics_port/tcp" "$dockerfile" &&
  grep -q "http://127.0.0.1:$metrics_port/healthz" "$dockerfile"; then
  pass "EXPOSE ${exposed_udp}(udp) and $metrics_port/tcp, HEALTHCHECK on :$metrics_port/healthz match the configuration"
else
  fail "ports: listeners [$listener_ports], EXPOSE udp [$exposed_udp], metrics $metrics_port; EXPOSE and HEALTHCHECK must match"
fi

sh -n docker/entrypoint.sh && pass "docker/entrypoint.sh parses as POSIX sh" ||
  fail "docker/entrypoint.sh has a syntax error"

if [ "$failures" -gt 0 ]; then
  echo "check.sh: $failures check(s) failed"
  exit 1
fi
echo "check.sh: all checks passed"
