#!/usr/bin/env bash
# The Lean ring API (Init.IO.Ring) against the C layers below it, printed as ratios: a Lean NOP
# round trip vs the driver's NOP floor (lu_run), and 10,000 NOPs in flight.  Not a timed test.
# Usage: bench/ring.sh [stage1-dir] [tier1-build-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
tier1=${2:-$ROOT/build/r-plain}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$stage1/bin/lean" -c "$tmp/ring_nop.c" "$ROOT/bench/lean/RingNop.lean"
"$stage1/bin/leanc" -O3 -o "$tmp/ring_nop" "$tmp/ring_nop.c"

echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d)"
c=$("$tier1/lu_slots")
echo "$c"
lean=$(LEAN_IO_BACKEND=uring "$tmp/ring_nop")
floor=$(awk '/lu_run/ {print $(NF-1)}' <<< "$c")
batch=$(awk '/M ops\/s/ {f=1; next} f && /lu_submit/ {print $NF; exit}' <<< "$c")
rt=$(awk '/round_trip/ {print $2}' <<< "$lean")
ops=$(awk '/ops_per_s/ {print $2}' <<< "$lean")
printf '%-36s %8s ns  %.2f x the floor\n' "Lean IO.Ring nop round trip" "$rt" \
  "$(awk -v a="$rt" -v b="$floor" 'BEGIN{print a/b}')"
printf '%-36s %8.2f M ops/s  %.2f of lu_submit + lu_wait\n' "Lean IO.Ring 10,000 nops in flight" \
  "$(awk -v a="$ops" 'BEGIN{print a/1e6}')" "$(awk -v a="$ops" -v b="$batch" 'BEGIN{print a/1e6/b}')"
