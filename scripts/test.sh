#!/usr/bin/env bash
# Installs what is missing, builds flowgate twice (Release, then ASan+UBSan) and runs the whole
# test suite in each: unit, conformance over ../shared/corpus, end-to-end, fuzz-seed replays.
# Then a ThreadSanitizer build of the threaded tests only (ring, sink hand-off, SIGTERM drain).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if [ ! -d ../shared/corpus ]; then
  echo "test.sh: ../shared/corpus (the conformance corpus) is missing beside this checkout" >&2
  exit 1
fi

for kind in release asan; do
  dir=build; [ "$kind" = asan ] && dir=build-asan
  echo "== $kind build"
  scripts/build.sh "$kind"
  echo "== $kind tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 600
done

# Third stage: ThreadSanitizer over the tests that run threads (cmake/tsan.cmake lists them).
echo "== tsan build"
scripts/build.sh tsan
echo "== tsan tests"
ctest --test-dir build-tsan -L tsan --output-on-failure -j "$(nproc)" --timeout 600
