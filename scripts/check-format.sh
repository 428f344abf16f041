#!/usr/bin/env bash
# Fails (exit 1) when a C++ file of the tree is not formatted as .clang-format says, listing the files.
# Usage: scripts/check-format.sh [--fix]   (--fix formats them in place instead)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src include tests tools bench fuzz -name '*.cpp' -o -name '*.hpp' | sort)
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not formatted per .clang-format (fix: scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files follow .clang-format"
