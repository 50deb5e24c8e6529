#!/usr/bin/env bash
# Model-check the ring protocol (ring.pml) and the driver (driver.pml); see README.md.
#
# ring.pml, under the weak memory model it encodes:
#   baseline   every ordering point as ring.c / the kernel have it: exhaustive search
#              (assertions and invalid end states) must find no error, for each size below;
#   mutants    each ordering point weakened on its own (-DWEAK_<point>), and a kernel that posts
#              past its overflow list (-DPOST_PAST_OVERFLOW): the search must find an assertion
#              violation - a corrupted, duplicated, lost or reordered id - for each size below.
#              Invalid end states are ignored there (-E): a promise that cannot be kept blocks,
#              which is an artefact of the encoding, not a finding (see ring.pml).
# driver.pml, interleavings of driver.c's control flow with the kernel:
#   baseline   for each size: safety (assertions, invalid end states), then the LTL properties
#              reap_all and teardown under weak fairness (pan -a -f): all must hold;
#   mutants    each driver bug, and SQPOLL under lu_run's NOP rewrite: one of those checks
#              must fail, for each size below.
#
# Prints one table row per run and exits non-zero if a baseline fails or a mutant survives.
# Usage: spec/spin/check.sh            (needs spin and a C compiler; skips otherwise)
# The verifiers are compiled with -O0: every search here is small, so compile time dominates.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
if ! command -v spin >/dev/null; then echo "SKIPPED: spin not found"; exit 0; fi
if ! command -v "$cc" >/dev/null; then echo "SKIPPED: no C compiler ($cc) for spin's verifier"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/ring.pml" "$here/driver.pml" "$work/"
cd "$work"

# ring.pml sizes: SQ capacity C, CQ capacity CQ, N ids; START=254 makes the byte indices wrap.
ring_sizes=("C=1 N=3" "C=2 N=3" "C=1 CQ=2 N=3" "C=2 N=5" "C=4 N=5" "C=2 N=3 START=0")
ring_mutants=(
	"WEAK_SQ_TAIL_RELEASE|C=1 N=3" "WEAK_SQ_TAIL_RELEASE|C=2 N=3"
	"WEAK_SQ_TAIL_ACQUIRE|C=1 N=3" "WEAK_SQ_TAIL_ACQUIRE|C=2 N=3"
	"WEAK_SQ_HEAD_RELEASE|C=1 N=3" "WEAK_SQ_HEAD_RELEASE|C=2 N=3"
	"WEAK_SQ_HEAD_ACQUIRE|C=1 N=3" "WEAK_SQ_HEAD_ACQUIRE|C=2 N=3"
	"WEAK_SQ_HEAD_ACQUIRE_PUBLISH|C=1 N=3" "WEAK_SQ_HEAD_ACQUIRE_PUBLISH|C=2 N=3"
	"WEAK_CQ_TAIL_RELEASE|C=1 N=3" "WEAK_CQ_TAIL_RELEASE|C=2 N=3"
	"WEAK_CQ_TAIL_ACQUIRE|C=1 N=3" "WEAK_CQ_TAIL_ACQUIRE|C=2 N=3"
	"WEAK_CQ_HEAD_RELEASE|C=1 N=3" "WEAK_CQ_HEAD_RELEASE|C=2 N=3"
	"WEAK_CQ_HEAD_ACQUIRE|C=1 N=3" "WEAK_CQ_HEAD_ACQUIRE|C=2 N=3"
	"POST_PAST_OVERFLOW|C=2 CQ=1 N=3")
# driver.pml sizes: SQ and CQ capacities, and the setup flag that changes when CQEs are posted.
driver_sizes=("SQ=2 CQ=2" "SQ=1 CQ=1" "SQ=1 CQ=1 DEFER_TASKRUN")
driver_mutant_sizes=("SQ=1 CQ=1" "SQ=1 CQ=1 DEFER_TASKRUN")
driver_mutants=(NO_REAP_FLUSH RETRY_NO_REAP EARLY_UNMAP SQPOLL)
driver_properties=(reap_all teardown)

# compile <model> <cc flags> <spin -D flags...>: builds ./pan
compile() {
	local model=$1 ccflags=$2; shift 2
	rm -f pan pan.* ./*.trail
	spin -a "$@" "$model" >spin.log 2>&1 || { cat spin.log; return 2; }
	# shellcheck disable=SC2086
	"$cc" -w -O0 $ccflags -o pan pan.c 2>cc.log || { cat cc.log; return 2; }
}

# search <pan flags>: runs ./pan, leaves its report in $work/out, sets states/errors/elapsed
search() {
	local t0 t1
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	./pan -m200000 $1 >out 2>&1 || true
	t1=$(date +%s.%N)
	elapsed=$(echo "$t1 - $t0" | bc)
	if grep -q "max search depth too small" out; then echo "depth limit hit"; cat out; return 2; fi
	states=$(awk '/states, stored/ {print $1}' out)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' out)
}

verdict_of() {   # what the counterexample violated
	if grep -q "assertion violated (id<" out; then echo "corrupted (assert id < N)"
	elif grep -q "assertion violated  !(seen\[id\])" out; then echo "duplicated (assert !seen[id])"
	elif grep -q "assertion violated (reaped==" out; then echo "lost (assert reaped == N)"
	elif grep -q "assertion violated (id==produced" out; then echo "reordered (assert id == produced)"
	elif grep -q "assertion violated mapped" out; then echo "touched after unmap (assert mapped)"
	elif grep -q "assertion violated  !(((x==4)" out; then echo "buffer used after lu_run returned"
	elif grep -q "assertion violated ((x!=4)" out; then echo "original read after the rewrite"
	elif grep -q "assertion violated  !((q_len(overflow)" out; then echo "reap left CQEs in overflow"
	elif grep -q "assertion violated" out; then grep -m1 "assertion violated" out
	elif grep -q "acceptance cycle" out; then echo "fair cycle violating it"
	elif grep -q "invalid end state" out; then echo "invalid end state (deadlock)"
	else echo "no violation"; fi
}

defs_of() {   # "A=1 B" -> -DA=1 -DB
	defs=()
	for kv in $1; do defs+=("-D$kv"); done
}

fail=0
row() { printf '%-34s %-24s %-44s %8s %7.2f\n' "$@"; }
printf '%-34s %-24s %-44s %8s %7s\n' variant size result states seconds

for size in "${ring_sizes[@]}"; do
	defs_of "$size"
	if ! { compile ring.pml -DSAFETY "${defs[@]}" && search "-w22 -n"; }; then fail=1; continue; fi
	if [ "$errors" = 0 ] && grep -q "Full statespace search" out; then result="verified"
	else result="FAILED ($(verdict_of))"; fail=1; fi
	row "ring baseline" "$size" "$result" "$states" "$elapsed"
done
for mutant in "${ring_mutants[@]}"; do
	point=${mutant%%|*} size=${mutant#*|}
	defs_of "$size $point"
	if ! { compile ring.pml -DSAFETY "${defs[@]}" && search "-w22 -n -E"; }; then fail=1; continue; fi
	result=$(verdict_of)
	case $result in "no violation"|"invalid end state"*) result="NOT CAUGHT"; fail=1 ;; esac
	row "ring $point" "$size" "$result" "$states" "$elapsed"
done

for size in "${driver_sizes[@]}"; do
	defs_of "$size"
	if ! { compile driver.pml "-DSAFETY -DNOCLAIM" "${defs[@]}" && search "-n"; }; then fail=1; continue; fi
	if [ "$errors" = 0 ]; then result="verified"; else result="FAILED ($(verdict_of))"; fail=1; fi
	row "driver safety" "$size" "$result" "$states" "$elapsed"
	compile driver.pml "-DNFAIR=3 -DNOREDUCE" "${defs[@]}" || { fail=1; continue; }
	for prop in "${driver_properties[@]}"; do
		search "-n -a -f -N $prop" || { fail=1; continue; }
		if [ "$errors" = 0 ] && grep -q "fairness enabled" out; then result="verified"
		else result="FAILED ($(verdict_of))"; fail=1; fi
		row "driver $prop (weak fair)" "$size" "$result" "$states" "$elapsed"
	done
done
# A mutant is caught by the first check that fails: safety, then each property.
for mutant in "${driver_mutants[@]}"; do
	for size in "${driver_mutant_sizes[@]}"; do
		defs_of "$size $mutant"
		if ! { compile driver.pml "-DSAFETY -DNOCLAIM" "${defs[@]}" && search "-n"; }; then fail=1; continue; fi
		by=safety
		if [ "$errors" = 0 ]; then
			compile driver.pml "-DNFAIR=3 -DNOREDUCE" "${defs[@]}" || { fail=1; continue; }
			for by in "${driver_properties[@]}"; do
				search "-n -a -f -N $by" || { fail=1; break; }
				[ "$errors" = 0 ] || break
			done
		fi
		if [ "$errors" = 0 ]; then result="NOT CAUGHT"; fail=1; else result="$by: $(verdict_of)"; fi
		row "driver $mutant" "$size" "$result" "$states" "$elapsed"
	done
done

if [ $fail -ne 0 ]; then echo "spin: FAILED"; exit 1; fi
echo "spin: ring verified at ${#ring_sizes[@]} sizes, driver at ${#driver_sizes[@]};" \
	"all ${#ring_mutants[@]} ring and $((${#driver_mutants[@]} * ${#driver_mutant_sizes[@]})) driver mutant runs caught"
