#!/usr/bin/env bash
# Configures and builds flowgate.
#   scripts/build.sh            Release build in build/
#   scripts/build.sh asan       ASan+UBSan build in build-asan/ (mimalloc off, fuzz replays)
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
  *)
    echo "usage: scripts/build.sh [release|asan] [target...]" >&2
    exit 2
    ;;
esac
cmake --build "$dir" -j "$jobs" ${1:+--target "$@"}
