#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs each for a bounded time on a copy of
# its seed corpus (the repository is not modified). Fails on any crash, sanitizer report, leak, timeout, out-of-
# memory or disagreement; the input that caused it is left in build-fuzz/artifacts/ (docs/fuzzing.md).
# Usage: scripts/fuzz.sh [--seconds N] [TARGET ...]   (default: 30 s for each of every target; a TARGET is a
#        name under fuzz/corpus/, e.g. sse_parser)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(find fuzz/corpus -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
fi

# clang and its runtimes (libFuzzer, ASan, UBSan), from Debian's packages, when missing. libclang-rt-dev is the
# runtime package of Debian's default clang (libclang-rt-14-dev on bookworm), so the two always match.
scripts/install-deps.sh clang libclang-rt-dev

# Only the core and the targets are built: the tests, benchmarks and I/O shell are not needed here.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPD_PROXY_WERROR=ON \
  -DPD_PROXY_BUILD_FUZZ=ON -DPD_PROXY_BUILD_TESTS=OFF -DPD_PROXY_BUILD_BENCH=OFF > /dev/null
cmake --build build-fuzz --target pd_fuzzers -j "$(nproc)"

artifacts=$PWD/build-fuzz/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=()
for t in "${targets[@]}"; do
  binary=build-fuzz/fuzz/${t}_fuzzer
  [ -x "$binary" ] || { echo "no fuzz target $t (fuzz/${t}_fuzzer.cpp)" >&2; exit 2; }
  mkdir -p "$work/$t"
  cp -r "fuzz/corpus/$t/." "$work/$t/"
  log=$work/$t.log
  if "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/$t-" "$work/$t" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz $t: ok, ${runs:-?} runs in ${seconds} s, ${cov:-cov: ?}"
  else
    echo "fuzz $t: FAILED; the last lines of its log:" >&2
    tail -40 "$log" >&2
    echo "reproduce: $binary build-fuzz/artifacts/$t-<crash|leak|timeout|oom>-<hash>" >&2
    failed+=("$t")
  fi
done
# The closing line in the plain form CI reads ("N passed, N failed").
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed fuzz target(s): ${failed[*]}" >&2
  exit 1
fi
