#!/usr/bin/env bash
# Flow.copy (Init.IO.Flow) against its peers, side by side in one run, as ratios of wall time
# (median of 3, every copy checked with cmp):
#  - file to file, MIB MiB (default 1024): Flow.copy (copy_file_range) vs coreutils cp;
#  - the same with the fast paths off (the ring pipeline, 8 x 128 KiB in flight) vs the C copy
#    engine (bench/lu_copy.c, one thread, depth 8, 128 KiB: the same shape);
#  - socket to socket on loopback: a relay that accepts one connection and copies it to a
#    second, Flow.copy (splice, and splice off) vs socat; the sender and the receiver are the
#    same socat processes for every relay.
# Both backends for Flow.copy.  Not a timed test.
#   bench/flow.sh [stage1-dir]           env: MIB, BENCH_DIR (default ~/tmp)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
mib=${MIB:-1024}
base=${BENCH_DIR:-$HOME/tmp}
mkdir -p "$base"
tmp=$(mktemp -d "$base/lean-uring-flow.XXXXXX")
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
command -v socat > /dev/null || { echo "flow.sh: socat is missing (scripts/install-deps.sh)" >&2; exit 1; }

"$stage1/bin/lean" -c "$tmp/flow_bench.c" "$ROOT/bench/lean/FlowBench.lean"
"$stage1/bin/leanc" -O3 -o "$tmp/flow_bench" "$tmp/flow_bench.c"
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src/runtime/uring" -o "$tmp/lu_copy" \
  "$ROOT/bench/lu_copy.c" "$ROOT"/src/runtime/uring/*.c -lpthread
head -c $((mib * 1024 * 1024)) /dev/urandom > "$tmp/data"
sync

# median_ms <command...>: median wall time of 3 runs in ms, each into a fresh $tmp/copy and
# $tmp/dst after a sync (so no run pays for the previous one's writeback); the copy is checked
# with cmp after the runs, outside the timing (unless NOCHECK is set).
median_ms() {
  local times=() t0 t1
  for _ in 1 2 3; do
    rm -rf "$tmp/copy" "$tmp/dst"; mkdir "$tmp/dst"; sync
    t0=$(date +%s%N)
    "$@" > "$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  [ "${NOCHECK:-}" ] || { cmp -s "$tmp/data" "$tmp/copy" || cmp -s "$tmp/data" "$tmp/dst/data"; } ||
    { echo "the copy differs: $*" >&2; exit 1; }
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

# relay_ms <socat|uring|posix|uring-off>: median of 3 transfers, in ms, from the sender's start
# to the receiver's end: socat sender -> relay on :p1 -> socat receiver on :p2, checked.
port=$((20000 + RANDOM % 20000))
relay_ms() {
  local times=() p1 p2 rx rl t0 t1
  for _ in 1 2 3; do
    p1=$port p2=$((port + 1)); port=$((port + 2))
    rm -f "$tmp/recv"
    socat -u TCP-LISTEN:$p2,reuseaddr,bind=127.0.0.1 "CREATE:$tmp/recv" & rx=$!
    sleep 0.3
    case $1 in
      socat) socat -u TCP-LISTEN:$p1,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:$p2 & rl=$! ;;
      *-off) LEAN_IO_BACKEND=${1%-off} "$tmp/flow_bench" relay-off $p1 127.0.0.1:$p2 > /dev/null & rl=$! ;;
      *) LEAN_IO_BACKEND=$1 "$tmp/flow_bench" relay $p1 127.0.0.1:$p2 > /dev/null & rl=$! ;;
    esac
    sleep 0.3
    t0=$(date +%s%N)
    socat -u "FILE:$tmp/data" TCP:127.0.0.1:$p1
    wait $rl; wait $rx
    t1=$(date +%s%N)
    cmp -s "$tmp/data" "$tmp/recv" || { echo "relay $1: the bytes differ" >&2; exit 1; }
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
row() { printf '%-52s %8s ms  %sx %s\n' "$1" "$2" "$(ratio "$2" "$3")" "$4"; }

echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "data: $mib MiB, warm page cache, $base ($(df -T "$base" | awk 'NR==2{print $2}'))"
cp_ms=$(median_ms cp "$tmp/data" "$tmp/copy")
engine_ms=$(median_ms env LEAN_IO_BACKEND=uring "$tmp/lu_copy" -j 1 -d 8 -b 131072 "$tmp/data" "$tmp/dst")
start_ms=$(NOCHECK=1 median_ms env LEAN_IO_BACKEND=uring "$tmp/flow_bench" file "$ROOT/README.md" "$tmp/copy")
socat_ms=$(relay_ms socat)
row "cp (coreutils)" "$cp_ms" "$cp_ms" "(reference)"
row "C copy engine (lu_copy -j 1 -d 8), uring" "$engine_ms" "$engine_ms" "(reference)"
row "socat relay, socket to socket" "$socat_ms" "$socat_ms" "(reference)"
echo "(a Lean program's start and exit alone, copying README.md: $start_ms ms)"
for b in uring posix; do
  ms=$(median_ms env LEAN_IO_BACKEND=$b "$tmp/flow_bench" file "$tmp/data" "$tmp/copy")
  row "[$b] Flow.copy file to file" "$ms" "$cp_ms" "of cp"
  ms=$(median_ms env LEAN_IO_BACKEND=$b "$tmp/flow_bench" file "$tmp/data" "$tmp/copy" off)
  row "[$b] Flow.copy file to file, fast paths off" "$ms" "$engine_ms" "of the C engine"
  ms=$(relay_ms $b)
  row "[$b] Flow.copy relay, socket to socket (splice)" "$ms" "$socat_ms" "of socat"
  ms=$(relay_ms $b-off)
  row "[$b] Flow.copy relay, socket to socket, splice off" "$ms" "$socat_ms" "of socat"
done
