#!/usr/bin/env bash
# A bounded fuzzing campaign, outside CI (tests/fuzz/README.md).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds the libFuzzer binaries in build-fuzz/ (clang, FLOWGATE_FUZZ=ON) if need be, then runs
# each target (default: all 8) for SECONDS (default $FLOWGATE_FUZZ_SECONDS or 300), one at a
# time, one job, niced. Each target's working corpus lives outside the repository, in
# $FLOWGATE_FUZZ_WORK (default /tmp/flowgate-fuzz/<target>), and persists between campaigns.
# Afterwards new inputs are merged (-merge=1, minimised coverage set) into tests/fuzz/seeds/<target>/,
# keeping the repository small: only inputs of at most 4 KiB, and at most 50 seed files per
# target (the merge adds nothing once that many are there). A crash is left in the work dir
# (crash-*), reported, and makes the script exit 1: fix the bug, copy the reproducer into
# seeds/<target>/ and commit both.
# Prints per target: seconds, executions, exec/s, cov and ft (libFuzzer's last stats line),
# crashes, seeds added.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

seconds="${1:-${FLOWGATE_FUZZ_SECONDS:-300}}"
shift || true
all_targets=(netflow5 netflow9 ipfix datagram sflow pcap config template_cache_diff aggregator_diff
  aggregator_settle_diff port_rollup_diff)
[ $# -gt 0 ] && targets=("$@") || targets=("${all_targets[@]}")
work_root="${FLOWGATE_FUZZ_WORK:-/tmp/flowgate-fuzz}"
max_seeds=50
max_seed_bytes=4096
jobs="${FLOWGATE_JOBS:-1}"

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DFLOWGATE_FUZZ=ON -DFLOWGATE_BENCH=OFF \
    -DFLOWGATE_MIMALLOC=OFF -DFLOWGATE_WERROR=ON >/dev/null
fi
cmake --build build-fuzz -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

failed=0
printf '%-20s %7s %12s %9s %7s %7s %7s %6s\n' target seconds execs exec/s cov ft crashes seeds+
for t in "${targets[@]}"; do
  work="$work_root/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  seeds="tests/fuzz/seeds/$t"
  mkdir -p "$seeds"
  inputs=("$seeds")
  case "$t" in
    pcap)
      # The corpus captures: pcaps only (its raw datagrams mean nothing as frames).
      mkdir -p "$work/captures"
      # Named after their path: the corpus has many traffic-00.pcap.
      while IFS= read -r f; do
        cp "$f" "$work/captures/$(tr '/' '_' <<<"${f#../}")"
      done < <(find ../shared/corpus tests/data -name '*.pcap' -size -64k)
      inputs+=("$work/captures")
      ;;
    config) inputs+=(config/flowgate.conf) ;;
    template_cache_diff | aggregator_diff | aggregator_settle_diff | port_rollup_diff) ;;
    *) [ -d ../shared/corpus ] && inputs+=(../shared/corpus) ;;
  esac
  # config/flowgate.conf is a file: libFuzzer takes directories only.
  dirs=()
  for i in "${inputs[@]}"; do
    if [ -d "$i" ]; then dirs+=("$i"); else mkdir -p "$work/files" && cp "$i" "$work/files/"; fi
  done
  [ -d "$work/files" ] && dirs+=("$work/files")

  # Long operation sequences only slow the differential target down (each operation compares
  # the whole key space): 256 operations at most. Captures and datagrams may be large.
  max_len=65536
  case "$t" in
    template_cache_diff | aggregator_diff | aggregator_settle_diff | port_rollup_diff)
      max_len=1024
      ;;
  esac
  log="$work/run.log"
  before=$(ls "$work/artifacts" | grep -c '^crash-\|^leak-\|^timeout-\|^oom-' || true)
  # -jobs=1 writes the run's output to fuzz-0.log in the current directory: run in $work.
  rm -f "$work/fuzz-0.log"
  abs_dirs=()
  for d in "${dirs[@]}"; do abs_dirs+=("$(cd "$d" && pwd)"); done
  (cd "$work" && nice -n 10 "$repo/build-fuzz/tests/fuzz/fuzz_$t" "$work/corpus" "${abs_dirs[@]}" \
    -max_total_time="$seconds" -jobs=1 -workers=1 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$log" 2>&1) || true
  [ -f "$work/fuzz-0.log" ] && cat "$work/fuzz-0.log" >>"$log"
  after=$(ls "$work/artifacts" | grep -c '^crash-\|^leak-\|^timeout-\|^oom-' || true)
  crashes=$((after - before))

  # Final figures: the last "#N ... cov: C ft: F ... exec/s: E" line and the final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  [ -z "$execs" ] && execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)

  # Merge: a minimised set of the small new inputs, added to the seeds until the bound.
  added=0
  have=$(find "$seeds" -type f | wc -l)
  if [ "$crashes" -eq 0 ] && [ "$have" -lt "$max_seeds" ]; then
    small="$work/small"
    merged="$work/merged"
    rm -rf "$small" "$merged"
    mkdir -p "$small" "$merged"
    find "$work/corpus" -type f -size -$((max_seed_bytes + 1))c -exec cp {} "$small/" \;
    # Inputs already covered by the seeds are dropped: merge into a copy of the seeds.
    cp -r "$seeds/." "$merged/"
    nice -n 10 "build-fuzz/tests/fuzz/fuzz_$t" -merge=1 "$merged" "$small" \
      -max_len="$max_seed_bytes" >>"$work/merge.log" 2>&1 || true
    for f in $(comm -13 <(ls "$seeds" | sort) <(ls "$merged" | sort)); do
      [ "$((have + added))" -ge "$max_seeds" ] && break
      cp "$merged/$f" "$seeds/fuzz-$f"
      added=$((added + 1))
    done
  fi
  printf '%-20s %7s %12s %9s %7s %7s %7s %6s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "$crashes" "$added"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    ls "$work/artifacts" | sed "s|^|  $work/artifacts/|"
    grep -m1 -A3 'ERROR\|==ERROR\|deadly signal' "$log" | sed 's/^/  /' || true
  fi
done
exit "$failed"
