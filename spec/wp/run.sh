#!/usr/bin/env bash
# Prove src/runtime/uring/ring.c's ACSL contracts (ring.h) with Frama-C's WP, and the mask
# lemma (mask.mlw) with Why3 on bit-vectors.  Prints "wp: N/N goals proved"; exits non-zero
# if any goal is unproved or a tool fails, and 0 with a SKIP line only when frama-c is absent.
#
#   spec/wp/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src/runtime/uring" && pwd)
if ! command -v frama-c > /dev/null; then
  echo "wp: SKIP (frama-c not installed; scripts/install-deps.sh installs it)"
  exit 0
fi
timeout=10   # seconds per goal, pinned: the slowest goal takes about 2 s here
provers=z3-ce
fns=lu_ring_get_sqe,lu_ring_publish_sq,lu_ring_sq_pending,lu_ring_peek_cqe,lu_ring_cq_ready
fns=$fns,lu_ring_cq_advance,lu_ring_cq_overflowed,zero_sqe,load_acquire,store_release,load_own,load_hint

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A private prover configuration: nothing depends on ~/.why3.conf.
export WHY3CONFIG=$tmp/why3.conf
why3 config detect -C "$WHY3CONFIG" > "$tmp/detect.log" 2>&1 || { cat "$tmp/detect.log" >&2; exit 1; }

# WP cannot size the kernel ABI's zero-length trailing arrays (sqe cmd[0], cqe big_cqe[]);
# they add no bytes, so a copy of the header without them has the same layout.
mkdir -p "$tmp/inc/linux"
sed -E '/^\s*__u8\s+cmd\[0\];/d; /^\s*__u64 big_cqe\[\];/d' /usr/include/linux/io_uring.h \
  > "$tmp/inc/linux/io_uring.h"

why3 prove -P z3 -t "$timeout" "$here/mask.mlw" > "$tmp/mask.log" 2>&1 || true
mask_total=$(grep -c '^Goal ' "$tmp/mask.log" || true)
mask_ok=$(grep -c 'Prover result is: Valid' "$tmp/mask.log" || true)

# -c11 and the gcc machdep for the kernel headers; _Alignas (lu_ring_probe only) is not
# supported by Frama-C and means nothing to the proof.  Unsigned wrap-around is defined C:
# -wp-rte checks memory accesses and signed overflow, not unsigned (Frama-C's default).
cpp="-include $here/framac.h -I$src -I$tmp/inc -idirafter /usr/include"
cpp="$cpp -idirafter /usr/include/x86_64-linux-gnu '-D_Alignas(x)='"
# wp <log> <selection...>: one WP run; its goals are added to ok/total.
ok=0 total=0
wp() {
  local log=$1 status=0 line n m
  shift
  frama-c -c11 -machdep gcc_x86_64 -cpp-extra-args="$cpp" "$src/ring.c" -wp -wp-rte "$@" \
    -wp-prover "$provers" -wp-timeout "$timeout" -wp-par 2 > "$log" 2>&1 || status=$?
  line=$(grep 'Proved goals:' "$log" | tail -1 || true)
  if [ "$status" -ne 0 ] || [ -z "$line" ]; then
    grep -v 'redefined\|previous definition\|^ *[0-9]* |\|^ *|\|In file included\|^ *from ' \
      "$log" >&2
    echo "wp: frama-c failed (exit $status)" >&2
    exit 1
  fi
  read -r n m < <(echo "$line" | sed -E 's/.*Proved goals: *([0-9]+) *\/ *([0-9]+).*/\1 \2/')
  ok=$((ok + n)) total=$((total + m))
}
# -wp-fct leaves out lemmas: they get a run of their own.
wp "$tmp/wp.log" -wp-fct "$fns"
wp "$tmp/lemmas.log" -wp-prop lu_slot_range
cat "$tmp/lemmas.log" >> "$tmp/wp.log"
grep -E 'Goal .*: (Unknown|Timeout|Failed)|\[Failed\] Goal' "$tmp/wp.log" |
  sed -E 's/^\[wp\] (\[[^]]*\] )*Goal /wp: unproved: /' || true
grep -A2 'Goal mask' "$tmp/mask.log" | grep -B1 -A1 'result is: [^V]' || true
grep -E '^\s+(Qed|Z3)' "$tmp/wp.log" | sed 's/^ */wp:   /' || true
# Goals proved per function, from the per-goal lines.
for f in ${fns//,/ } lemma_lu_slot_range; do
  n=$(grep -cE "Goal typed_${f}[_ ]" "$tmp/wp.log" || true)
  v=$(grep -cE "Goal typed_${f}[_ ].*: Valid" "$tmp/wp.log" || true)
  printf 'wp:   %-22s %s/%s\n' "$f" "$v" "$n"
done
echo "wp: mask.mlw $mask_ok/$mask_total lemmas proved (why3, z3 on bit-vectors)"
echo "wp: $ok/$total goals proved (ring.c, WP -wp-rte, $provers, ${timeout}s per goal)"
[ "$ok" -eq "$total" ] && [ "$mask_total" -gt 0 ] && [ "$mask_ok" -eq "$mask_total" ]
