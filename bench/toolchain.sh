#!/usr/bin/env bash
# Benchmark the toolchain under both backends, side by side in one run, and print ratios:
#  - a compiled Lean program heavy on writeFile/readFile/getLine (bench/lean/IoHeavy.lean);
#  - the wall time of upstream's test suite (with --suite; it takes a few minutes).
# Usage: bench/toolchain.sh [stage1-dir] [--suite]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$stage1/bin/lean" -c "$tmp/io_heavy.c" "$ROOT/bench/lean/IoHeavy.lean"
"$stage1/bin/leanc" -O3 -o "$tmp/io_heavy" "$tmp/io_heavy.c"

# Median of 5 runs, in milliseconds; the outputs of both backends must agree.
measure() {
  local backend=$1 times=()
  for _ in 1 2 3 4 5; do
    local t0 t1
    t0=$(date +%s%N)
    LEAN_IO_BACKEND=$backend "$tmp/io_heavy" "$tmp/data-$backend" > "$tmp/out-$backend"
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
posix_ms=$(measure posix)
uring_ms=$(measure uring)
cmp -s "$tmp/out-posix" "$tmp/out-uring" || { echo "outputs differ between backends" >&2; exit 1; }

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)"
printf '%-40s %10s %10s %8s\n' benchmark "posix" "uring" "uring/posix"
printf '%-40s %8s ms %7s ms %8s\n' "IoHeavy (200 files x 200 lines x 5)" "$posix_ms" "$uring_ms" \
  "$(awk -v a="$uring_ms" -v b="$posix_ms" 'BEGIN{printf "%.2f", a/b}')"

if [ "${2:-}" = "--suite" ]; then
  UPSTREAM_SUITE_TIMES=$tmp/suite "$ROOT/scripts/upstream-suite.sh" "$(dirname "$stage1")" > "$tmp/suite.log" || true
  p=$(awk '$1=="posix"{print $2}' "$tmp/suite"); u=$(awk '$1=="uring"{print $2}' "$tmp/suite")
  printf '%-40s %9s s %8s s %8s\n' "upstream test suite (ctest -j$(nproc))" "$p" "$u" \
    "$(awk -v a="$u" -v b="$p" 'BEGIN{printf "%.2f", a/b}')"
fi
