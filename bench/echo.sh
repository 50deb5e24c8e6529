#!/usr/bin/env bash
# The echo server demo, side by side in one run, on 127.0.0.1 only:
#  - echo (examples/echo.lean, compiled) --blocking: the naive Lean baseline, a thread per
#    connection with blocking calls;
#  - the same program on fibers, one thread, under LEAN_IO_BACKEND=posix and =uring;
#  - lu_echo (bench/lu_echo.c): the C server alone, under both backends.
# Load: bench/echo_load.c with 1 connection x ROUNDS1 round trips, and CONNS connections x
# ROUNDSN round trips, of SIZE bytes each.  Every server stops by itself once the load's
# connections have closed (MAXCONN); every figure is the median of 3 runs by requests/s.
# "max us" is the worst round trip: under the blocking baseline, the last connection's first
# echo waits until every connection before it has closed.
#
#   bench/echo.sh [stage1-dir]      env: CONNS (64), ROUNDS1 (20000), ROUNDSN (500), SIZE (64)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}
conns=${CONNS:-64}
rounds1=${ROUNDS1:-20000}
roundsn=${ROUNDSN:-500}
size=${SIZE:-64}
work=$(mktemp -d /tmp/lean-uring-echo.XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$ROOT/examples" && "$stage1/bin/lean" -c "$work/echo.c" echo.lean)
"$stage1/bin/leanc" -O3 -o "$work/echo" "$work/echo.c"
# The servers below all take PORT MAXCONN; the Lean one takes its options first.
for mode in blocking fibers; do
  flag=--blocking; [ "$mode" = fibers ] && flag="--threads 1"
  printf '#!/bin/sh\nexec "%s" %s --max-conns "$2" "$1"\n' "$work/echo" "$flag" > "$work/echo-$mode"
  chmod +x "$work/echo-$mode"
done
for prog in lu_echo echo_load; do
  cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src/runtime/uring" -o "$work/$prog" \
    "$ROOT/bench/$prog.c" "$ROOT"/src/runtime/uring/*.c -lpthread
done

# A port per run, so that no run waits for the previous one's TIME_WAIT.
port=$((20000 + $$ % 20000))

# run_load <conns> <rounds> <server command...>: "req/s p50 p99 max" of one run.
run_load() {
  local c=$1 n=$2; shift 2
  port=$((port + 1))
  "$@" "$port" "$c" > "$work/server.out" 2>&1 &
  local server=$!
  local line
  line=$("$work/echo_load" -p "$port" -c "$c" -n "$n" -s "$size") || { kill "$server"; exit 1; }
  wait "$server" || { cat "$work/server.out" >&2; exit 1; }
  grep -q "served $c connections" "$work/server.out" || { cat "$work/server.out" >&2; exit 1; }
  echo "$line"
}

# median <conns> <rounds> <server command...>: the run with the median requests/s of 3.
median() {
  for _ in 1 2 3; do run_load "$@"; done | sort -n | sed -n 2p
}

servers=(
  "echo --blocking (Lean): naive baseline|env LEAN_IO_BACKEND=posix $work/echo-blocking"
  "echo on fibers (Lean), posix|env LEAN_IO_BACKEND=posix $work/echo-fibers"
  "echo on fibers (Lean), uring|env LEAN_IO_BACKEND=uring $work/echo-fibers"
  "lu_echo (C server), posix|env LEAN_IO_BACKEND=posix $work/lu_echo"
  "lu_echo (C server), uring|env LEAN_IO_BACKEND=uring $work/lu_echo"
)

echo "machine: $(nproc) cores, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
echo "load: $size-byte round trips on 127.0.0.1; 1 x $rounds1 and $conns x $roundsn"
printf '%-40s %6s %10s %9s %9s %10s %9s\n' server conns "req/s" "p50 us" "p99 us" "max us" "vs naive"
for spec in "1 $rounds1" "$conns $roundsn"; do
  read -r c n <<< "$spec"
  base=
  for row in "${servers[@]}"; do
    label=${row%%|*}
    read -r -a cmd <<< "${row#*|}"
    read -r rps p50 p99 max <<< "$(median "$c" "$n" "${cmd[@]}")"
    [ -n "$base" ] || base=$rps
    printf '%-40s %6s %10s %9s %9s %10s %8sx\n' "$label" "$c" "$rps" "$p50" "$p99" "$max" \
      "$(awk -v b="$base" -v r="$rps" 'BEGIN{printf "%.2f", r / b}')"
  done
done
