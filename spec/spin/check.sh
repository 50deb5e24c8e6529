#!/usr/bin/env bash
# Model-check the ring protocol (ring.pml) under the weak memory model it encodes.
#
#   baseline   every ordering point as ring.c / the kernel have it: exhaustive search
#              (assertions and invalid end states) must find no error, for each size below;
#   mutants    each ordering point weakened on its own (-DWEAK_<point>): the search must find an
#              assertion violation - a corrupted, duplicated or lost id - for each size below.
#              Invalid end states are ignored there (-E): a promise that cannot be kept blocks,
#              which is an artefact of the encoding, not a finding (see ring.pml).
#
# Prints one table row per run and exits non-zero if the baseline fails or a mutant survives.
# Usage: spec/spin/check.sh            (needs spin and a C compiler; skips otherwise)
# The verifier is compiled with -O0: every search here is small, so compile time dominates.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
if ! command -v spin >/dev/null; then echo "SKIPPED: spin not found"; exit 0; fi
if ! command -v "$cc" >/dev/null; then echo "SKIPPED: no C compiler ($cc) for spin's verifier"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/ring.pml" "$work/"
cd "$work"

# sizes: SQ capacity C, CQ capacity CQ, N ids; START=254 makes the byte indices wrap.
baseline_sizes=("C=1 N=3" "C=2 N=3" "C=1 CQ=2 N=3" "C=2 N=5" "C=4 N=5" "C=2 N=3 START=0")
mutant_sizes=("C=1 N=3" "C=2 N=3")
points=(SQ_TAIL_RELEASE SQ_TAIL_ACQUIRE SQ_HEAD_RELEASE SQ_HEAD_ACQUIRE
	CQ_TAIL_RELEASE CQ_TAIL_ACQUIRE CQ_HEAD_RELEASE CQ_HEAD_ACQUIRE)

# verify <pan flags> <spin -D flags...>: leaves the verifier's report in $work/out
verify() {
	local panflags=$1; shift
	rm -f pan pan.* ./*.trail
	spin -a "$@" ring.pml >spin.log 2>&1 || { cat spin.log; return 2; }
	"$cc" -w -O0 -DSAFETY -o pan pan.c 2>cc.log || { cat cc.log; return 2; }
	local t0 t1
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	./pan -m200000 -w22 -n $panflags >out 2>&1 || true
	t1=$(date +%s.%N)
	elapsed=$(echo "$t1 - $t0" | bc)
	if grep -q "max search depth too small" out; then echo "depth limit hit"; cat out; return 2; fi
	states=$(awk '/states, stored/ {print $1}' out)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' out)
}

verdict_of() {   # which assertion the counterexample violated
	if grep -q "assertion violated (id<" out; then echo "corrupted (assert id < N)"
	elif grep -q "assertion violated  !(seen\[id\])" out; then echo "duplicated (assert !seen[id])"
	elif grep -q "assertion violated (reaped==" out; then echo "lost (assert reaped == N)"
	elif grep -q "assertion violated" out; then grep "assertion violated" out | head -1
	else echo "no assertion violation"; fi
}

fail=0
printf '%-22s %-20s %-34s %10s %8s\n' variant size result states seconds
for size in "${baseline_sizes[@]}"; do
	defs=()
	for kv in $size; do defs+=("-D$kv"); done
	verify "" "${defs[@]}" || { fail=1; continue; }
	if [ "$errors" = 0 ] && grep -q "Full statespace search" out; then result="verified"
	else result="FAILED ($(grep -m1 -E 'violated|invalid end state' out || echo "errors: $errors"))"; fail=1; fi
	printf '%-22s %-20s %-34s %10s %8.2f\n' baseline "$size" "$result" "$states" "$elapsed"
done
for point in "${points[@]}"; do
	for size in "${mutant_sizes[@]}"; do
		defs=("-DWEAK_$point")
		for kv in $size; do defs+=("-D$kv"); done
		verify "-E" "${defs[@]}" || { fail=1; continue; }
		result=$(verdict_of)
		if [ "$result" = "no assertion violation" ]; then result="NOT CAUGHT"; fail=1; fi
		printf '%-22s %-20s %-34s %10s %8.2f\n' "$point" "$size" "$result" "$states" "$elapsed"
	done
done

if [ $fail -ne 0 ]; then echo "spin: FAILED"; exit 1; fi
echo "spin: baseline verified at ${#baseline_sizes[@]} sizes; all ${#points[@]} weakenings caught"
