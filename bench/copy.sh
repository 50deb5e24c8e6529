#!/usr/bin/env bash
# The parallel file copy demo, side by side in one run: FILES files of MIB MiB each (default
# 8 x 64 MiB) copied into an empty directory by
#  - naivecp: the blocking Lean baseline, readBinFile + writeBinFile per file, one after the
#    other (bench/lean/NaiveCp.lean, compiled), under posix;
#  - urcp (examples/urcp.lean, compiled, on fibers) with -j JOBS threads (default 4) and -j 1,
#    under LEAN_IO_BACKEND=posix and =uring;
#  - cp (coreutils), which copies inside the kernel with copy_file_range;
#  - lu_copy (bench/lu_copy.c): the C copy engine alone, 1 and JOBS threads, both backends, and
#    under uring at depth 8 as well as the default 64 (with a warm cache, 1 MiB in flight per
#    copy stays in the CPU caches; 8 MiB does not).
# Every figure is the median of 3 runs; every copy is compared with its source (cmp).
# The page cache is warm (the sources were just written, and dropping caches needs root and a
# quiet machine): this measures the copy engines and the CPU, not the disk.
#
#   bench/copy.sh [stage1-dir]          env: FILES, MIB, JOBS, BENCH_DIR (default ~/tmp)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
files=${FILES:-8}
mib=${MIB:-64}
jobs=${JOBS:-4}
base=${BENCH_DIR:-$HOME/tmp}
mkdir -p "$base"
work=$(mktemp -d "$base/lean-uring-copy.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$ROOT/bench/lean" && "$stage1/bin/lean" -c "$work/naivecp.c" NaiveCp.lean)
"$stage1/bin/leanc" -O3 -o "$work/naivecp" "$work/naivecp.c"
(cd "$ROOT/examples" && "$stage1/bin/lean" -c "$work/urcp.c" urcp.lean)
"$stage1/bin/leanc" -O3 -o "$work/urcp" "$work/urcp.c"
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src/runtime/uring" -o "$work/lu_copy" \
  "$ROOT/bench/lu_copy.c" "$ROOT"/src/runtime/uring/*.c -lpthread

mkdir "$work/src"
srcs=()
for i in $(seq 1 "$files"); do
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/src/f$i"
  srcs+=("$work/src/f$i")
done
sync
total_mb=$((files * mib * 1048576 / 1000000))

# time_copy <command...>: median wall time in ms of 3 copies into a fresh directory; the last
# copy is compared with the sources.
time_copy() {
  local times=()
  for _ in 1 2 3; do
    rm -rf "$work/dst"
    mkdir "$work/dst"
    local t0 t1
    t0=$(date +%s%N)
    "$@" "${srcs[@]}" "$work/dst" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  for f in "${srcs[@]}"; do
    cmp -s "$f" "$work/dst/$(basename "$f")" || { echo "copy of $f differs: $*" >&2; exit 1; }
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

rows=(
  "naivecp (readBinFile+writeBinFile), posix|env LEAN_IO_BACKEND=posix $work/naivecp"
  "urcp -j 1, posix|env LEAN_IO_BACKEND=posix $work/urcp -j 1"
  "urcp -j 1, uring|env LEAN_IO_BACKEND=uring $work/urcp -j 1"
  "urcp -j $jobs, posix|env LEAN_IO_BACKEND=posix $work/urcp -j $jobs"
  "urcp -j $jobs, uring|env LEAN_IO_BACKEND=uring $work/urcp -j $jobs"
  "cp (coreutils, copy_file_range)|cp"
  "lu_copy -j 1 (C engine), posix|env LEAN_IO_BACKEND=posix $work/lu_copy -j 1"
  "lu_copy -j 1 (C engine), uring|env LEAN_IO_BACKEND=uring $work/lu_copy -j 1"
  "lu_copy -j $jobs (C engine), posix|env LEAN_IO_BACKEND=posix $work/lu_copy -j $jobs"
  "lu_copy -j $jobs (C engine), uring|env LEAN_IO_BACKEND=uring $work/lu_copy -j $jobs"
  "lu_copy -j 1 -d 64 (C engine), uring|env LEAN_IO_BACKEND=uring $work/lu_copy -j 1 -d 64"
  "lu_copy -j $jobs -d 64 (C engine), uring|env LEAN_IO_BACKEND=uring $work/lu_copy -j $jobs -d 64"
)

echo "machine: $(nproc) cores, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "data: $files files x $mib MiB, warm page cache, $base ($(df -T "$base" | awk 'NR==2{print $2}'))"
printf '%-44s %9s %9s %10s\n' copier "ms" "MB/s" "vs naive"
naive_ms=
for row in "${rows[@]}"; do
  label=${row%%|*}
  read -r -a cmd <<< "${row#*|}"
  ms=$(time_copy "${cmd[@]}")
  [ -n "$naive_ms" ] || naive_ms=$ms
  printf '%-44s %9s %9s %9sx\n' "$label" "$ms" \
    "$(awk -v b="$total_mb" -v t="$ms" 'BEGIN{printf "%.0f", b / (t / 1000)}')" \
    "$(awk -v n="$naive_ms" -v t="$ms" 'BEGIN{printf "%.2f", n / t}')"
done
