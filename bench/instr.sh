#!/usr/bin/env bash
# User-space instructions per call on lu_micro's synchronous rows, counted by callgrind.  Both
# rings get the same SQE, so the kernel's share of a call is the same on each; what differs is
# ours, and an instruction count shows it without the timing noise of a shared machine (the
# /dev/null write's time ratio swings 1.04x-1.15x between runs).
#
#   bench/instr.sh [lu_micro]     (default build/tier1-plain/lu_micro; about a minute)
#
# lu_micro ends each timed row in a callgrind dump named "row|path|calls" (dump_row there);
# only time_sync is collected, so a dump holds that row's loop alone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
micro=${1:-$root/build/tier1-plain/lu_micro}
[ -x "$micro" ] || { echo "no lu_micro at $micro (build tier 1 first)"; exit 1; }
command -v valgrind > /dev/null || { echo "SKIPPED: valgrind not found"; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Valgrind 3.19 cannot read clang 14's DWARF 5; the counts need no debug info.
objcopy --strip-debug "$micro" "$work/lu_micro"
valgrind --tool=callgrind --toggle-collect=time_sync --callgrind-out-file="$work/cg" \
  "$work/lu_micro" 1 > /dev/null 2> "$work/valgrind.log" ||
  { cat "$work/valgrind.log"; exit 1; }

echo "lu_micro under callgrind: user-space instructions per call, $(uname -r), $(date -u +%F)"
for ((i = 1; ; i++)); do
  f=$work/cg.$i
  [ -f "$f" ] || break
  desc=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
  total=$(sed -n 's/^totals: //p' "$f")
  [[ $desc == *"|"*"|"* ]] && printf '%s|%s\n' "$desc" "$total"
done | awk -F'|' '
  { per = $4 / $3
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
    count[$1, $2] = per }
  END {
    printf "  %-40s %9s %9s %9s %11s\n", "operation", "lu_uring", "liburing", "syscall", "uring/lib"
    for (i = 1; i <= n; i++) {
      r = order[i]; u = count[r, "uring"]; l = count[r, "liburing"]
      p = ((r, "posix") in count) ? sprintf("%9.0f", count[r, "posix"]) : sprintf("%9s", "-")
      printf "  %-40s %9.0f %9.0f %s %10.2fx\n", r, u, l, p, u / l
    }
  }'
