#!/usr/bin/env bash
# Run upstream's own test suite (ctest in stage1) under LEAN_IO_BACKEND=posix and =uring and
# require that uring passes exactly the tests posix passes. A difference is a bug to fix, never
# a skip. (As root, upstream's file_not_found cannot get its EACCES and fails under both.)
set -uo pipefail
build=${1:?usage: upstream-suite.sh <lean4 build dir>}
JOBS=${JOBS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for backend in posix uring; do
  echo "-- upstream ctest, LEAN_IO_BACKEND=$backend"
  start=$(date +%s)
  (cd "$build/stage1" && LEAN_IO_BACKEND=$backend ctest -j"$JOBS" --timeout 600 > "$out/$backend.log" 2>&1)
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$out/$backend.log" \
    | sed -E 's/^.*Test +#[0-9]+: ([^ ]+) \.+ *(\*\*\*)?([A-Za-z]+).*$/\1 \3/' | sort > "$out/$backend.res"
  grep -E 'tests passed|tests failed' "$out/$backend.log"
  echo "   wall time: $(( $(date +%s) - start )) s"
  echo "$backend $(( $(date +%s) - start ))" >> "${UPSTREAM_SUITE_TIMES:-/dev/null}"
done

awk '$2 == "Passed" {print $1}' "$out/posix.res" > "$out/posix.pass"
awk '$2 == "Passed" {print $1}' "$out/uring.res" > "$out/uring.pass"
echo "-- failing under posix: $(grep -vc ' Passed$' "$out/posix.res")"
grep -v ' Passed$' "$out/posix.res" | sed 's/^/   /'
if diff -u "$out/posix.pass" "$out/uring.pass" > "$out/diff"; then
  echo "-- uring passes exactly the $(wc -l < "$out/uring.pass") tests posix passes"
else
  echo "-- MISMATCH between backends (- posix only, + uring only):"
  grep -E '^[-+][^-+]' "$out/diff"
  exit 1
fi
