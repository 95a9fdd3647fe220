#!/usr/bin/env bash
# Configures and builds flowgate.
#   scripts/build.sh            Release build in build/
#   scripts/build.sh asan       ASan+UBSan build in build-asan/ (mimalloc off, fuzz replays)
#   scripts/build.sh tsan       ThreadSanitizer build in build-tsan/ of the threaded tests only:
#                               the binary and flowgate_tsan_tests (cmake/tsan.cmake lists them)
# Extra arguments after the kind are passed to the build tool (e.g. a target name).
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-release}"
shift || true
jobs="${FLOWGATE_JOBS:-$(nproc)}"  # FLOWGATE_JOBS=1 when another build shares the cores
common=(-G Ninja -DFLOWGATE_WERROR="${FLOWGATE_WERROR:-ON}")

case "$kind" in
  release)
    dir=build
    cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
    ;;
  asan)
    dir=build-asan
    # -O1 keeps the sanitizer build quick to compile and still fast enough for the corpus.
    cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DFLOWGATE_SANITIZE=ON \
      -DFLOWGATE_BENCH=OFF >/dev/null
    ;;
  tsan)
    dir=build-tsan
    cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DFLOWGATE_TSAN=ON -DFLOWGATE_BENCH=OFF >/dev/null
    # Only what the tsan-labelled tests need: the SPSC ring, sink hand-off and end-to-end
    # shutdown tests (flowgate_tsan_tests) and the binary they run.
    [ $# -eq 0 ] && set -- flowgate flowgate_tsan_tests
    ;;
  *)
    echo "usage: scripts/build.sh [release|asan|tsan] [target...]" >&2
    exit 2
    ;;
esac
cmake --build "$dir" -j "$jobs" ${1:+--target "$@"}
