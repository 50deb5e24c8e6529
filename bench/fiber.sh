#!/usr/bin/env bash
# The fiber layer (Init.IO.Fiber) against the C layers beneath it, side by side in one run and
# printed as ratios: a fiber's NOP round trip vs the driver's NOP floor (lu_run, bench/lu_slots.c),
# 10,000 fibers with a NOP or a 1 ms timer in flight, and a pipelined read of a 1 GiB file
# (8 fibers, 128 KiB blocks, written to /dev/null) vs the C copy engine doing the same
# (bench/lu_read.c).  Both backends for the fibers.  Not a timed test.
# Usage: bench/fiber.sh [stage1-dir] [tier1-build-dir]      (MIB=1024 sets the file size)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
tier1=${2:-$ROOT/build/tier1-plain}
mib=${MIB:-1024}
base=${BENCH_DIR:-$HOME/tmp}
mkdir -p "$base"
tmp=$(mktemp -d "$base/lean-uring-fiber.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$stage1/bin/lean" -c "$tmp/fiber_bench.c" "$ROOT/bench/lean/FiberBench.lean"
"$stage1/bin/leanc" -O3 -o "$tmp/fiber_bench" "$tmp/fiber_bench.c"
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src/runtime/uring" -o "$tmp/lu_read" \
  "$ROOT/bench/lu_read.c" "$ROOT"/src/runtime/uring/*.c -lpthread
head -c $((mib * 1024 * 1024)) /dev/urandom > "$tmp/data"
cat "$tmp/data" > /dev/null  # warm page cache: both readers read from memory

echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d)"
floor=$("$tier1/lu_slots" | awk '/lu_run/ {print $(NF-1)}')
c=$(LEAN_IO_BACKEND=uring "$tmp/lu_read" "$tmp/data")
cmb=$(awk '/c_read_mb_per_s/ {print $2}' <<< "$c")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
printf '%-44s %10s\n' "driver NOP floor (lu_run)" "$floor ns"
printf '%-44s %10s\n' "C copy engine read side, $mib MiB" "$cmb MiB/s"
for backend in uring posix; do
  out=$(LEAN_IO_BACKEND=$backend "$tmp/fiber_bench" "$tmp/data")
  get() { awk -v k="$1" '$1 == k {print $2}' <<< "$out"; }
  rt=$(get fiber_nop_round_trip_ns)
  printf '%-44s %10s  %s x the floor\n' "[$backend] fiber NOP round trip" "$rt ns" "$(ratio "$rt" "$floor")"
  printf '%-44s %10s\n' "[$backend] 10,000 fibers, a NOP each" "$(get fiber_nops_in_flight_ops_per_s) ops/s"
  printf '%-44s %10s\n' "[$backend] 10,000 fibers, a 1 ms timer each" "$(get fiber_timers_in_flight_ops_per_s) ops/s"
  mb=$(get fiber_read_mb_per_s)
  printf '%-44s %10s  %s of the C engine\n' "[$backend] fibers: pipelined read, $mib MiB" "$mb MiB/s" "$(ratio "$mb" "$cmb")"
done
