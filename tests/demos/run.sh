#!/usr/bin/env bash
# The demos' tests (issue #9): each tests/demos/<demo>.sh compiles its example with the
# toolchain, runs it under both backends against real files, loopback sockets and a
# pseudo-terminal, and prints PASS/FAIL lines.  This runs them all and fails if any fails.
#
#   tests/demos/run.sh <stage1-dir> [demo-name-filter]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage1=${1:?usage: tests/demos/run.sh <stage1-dir> [filter]}
filter=${2:-}
failed=()
for t in "$here"/urcp.sh "$here"/echo.sh "$here"/http.sh; do
  name=$(basename "$t" .sh)
  [[ -z $filter || $name == *$filter* ]] || continue
  echo "---- demo: $name"
  bash "$t" "$stage1" || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "demos failed: ${failed[*]}"
  exit 1
fi
echo "demos: all passed"
