#!/usr/bin/env bash
# Scheduler conformance, tier 2: the real fiber scheduler (src/Init/IO/Sched.lean) against the
# Lean model spec/Sched, through its executable twin.
#
#   spec/sched-conformance.sh <stage1-dir>
#
# 1. Compiles spec/SchedConformance.lean and the spec modules it imports to a native program.
# 2. Runs every fiber test of tests/lean/run (those calling Fiber.run) under both backends,
#    interpreted, with LEAN_FIBER_TRACE set: each scheduler appends its steps to a trace file.
# 3. Replays each trace with the twin, which must accept it (every scheduler ending with
#    nothing parked), and corrupted copies (a resume repeated, a stale completion reported as
#    a resume, a cancel sent twice, a victim's cancel left out, a parked generation changed),
#    which it must reject.  The receivers' test's traces must hold its pauses' cancels.
# Prints "N passed, M failed" and exits non-zero on any failure; "SKIPPED: <reason>" and exit 0
# when there is no lean.
set -euo pipefail

stage1=${1:?usage: spec/sched-conformance.sh <stage1-dir>}
lean=$stage1/bin/lean
leanc=$stage1/bin/leanc
spec=$(cd "$(dirname "$0")" && pwd)
runs=$spec/../tests/lean/run

if [ ! -x "$lean" ]; then echo "SKIPPED: no lean at $lean"; exit 0; fi
stdlib=${LEAN_STDLIB:-$stage1/lib/lean}
[ -f "$stdlib/Init/Prelude.olean" ] || { echo "FAIL: no Init/Prelude.olean under $stdlib"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lean-uring-sched-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
. "$spec/twin-build.sh"
LEAN_PATH="$stdlib:$work/olean" build_twin SchedConformance "$work/twin"

passed=0 failed=0 accepted=0 rejected=0 steps=0 scheds=0
kinds="dup-resume stale-resume dup-cancel drop-victim park-gen"
declare -A caught
fail() { failed=$((failed + 1)); [ "$failed" -le 10 ] && echo "FAIL: $*"; return 0; }

# corrupt <kind> <in> <out>: one deliberate violation, on the first line it applies to.
corrupt() {
	case $1 in
	dup-resume)     awk '{ print } !d && $1 == "cqe" && $5 == "resume" { print; d = 1 }' "$2" ;;
	stale-resume)   awk '!d && $1 == "cqe" && $5 == "drop" && $4 == 0 { $5 = "resume"; d = 1 } { print }' "$2" ;;
	dup-cancel)     awk '{ print } !d && $1 == "cancel" { print; d = 1 }' "$2" ;;
	drop-victim)    awk '$1 == "fail" { p = 1 } $1 == "done" { p = 0 }
			     !d && p && $1 == "cancel" { d = 1; next } { print }' "$2" ;;
	park-gen)       awk '!d && $1 == "park" { $3 = $3 + 1; d = 1 } { print }' "$2" ;;
	esac >"$3"
}

cd "$runs"
tests=$(grep -l 'Fiber.run\|runInThreads' uring_*.lean)
for test in $tests; do
	name=$(basename "$test" .lean)
	input=/dev/null
	[ -f "$name.input" ] && input=$runs/$name.input
	for backend in uring posix; do
		trace=$work/$name.$backend.trace
		dir=$work/run-$name-$backend
		mkdir -p "$dir"
		# the test's own output is run-backends.sh's business; here only its steps count
		(cd "$dir" && LEAN_IO_BACKEND=$backend LEAN_FIBER_TRACE=$trace timeout 300 \
			"$lean" --run "$runs/$test" <"$input" >/dev/null 2>&1) || true
		# one file per set of schedulers alive together (Sched.Trace): replayed as one
		cat "$trace".* >"$trace" 2>/dev/null
		if [ ! -s "$trace" ]; then fail "$name ($backend): no trace written"; continue; fi
		set +e; out=$("$work/twin" "$trace"); rc=$?; set -e
		if [ "$rc" = 0 ] && [[ $out == "accepted "* ]]; then
			passed=$((passed + 1)) accepted=$((accepted + 1))
			scheds=$((scheds + $(echo "$out" | awk '{ print $2 }')))
			steps=$((steps + $(echo "$out" | awk '{ print $4 }')))
		else
			fail "$name ($backend): exit $rc: $out"
			continue
		fi
		# a receiver's pause is a cancel sent from its multishot recv's own completion, and the
		# model counts it only if the trace has it
		if [ "$name" = uring_recv ]; then
			pauses=$(awk '$1 == "cancel" && p1 == "cqe" && p3 == $2 && p4 == 1 { n++ }
				      { p1 = $1; p3 = $3; p4 = $4 } END { print n + 0 }' "$trace")
			if [ "$pauses" -gt 0 ]; then
				passed=$((passed + 1)); echo "  receivers' pauses traced as cancels: $pauses"
			else
				fail "$name ($backend): no receiver's pause in the trace as a cancel"
			fi
		fi
		for kind in $kinds; do
			bad=$work/$name.$backend.$kind.trace
			corrupt "$kind" "$trace" "$bad"
			cmp -s "$trace" "$bad" && continue   # nothing of that kind in this run
			set +e; out=$("$work/twin" "$bad"); rc=$?; set -e
			if [ "$rc" = 1 ] && [[ $out == "rejected"* ]]; then
				passed=$((passed + 1)) rejected=$((rejected + 1))
				caught[$kind]=$((${caught[$kind]:-0} + 1))
			else
				fail "$name ($backend) $kind: exit $rc, wanted a rejection: $out"
			fi
		done
	done
done
# every kind of corruption must have found something to corrupt in some run
for kind in $kinds; do
	[ -n "${caught[$kind]:-}" ] || fail "no run had anything for $kind to corrupt"
	echo "  $kind: ${caught[$kind]:-0} corrupted copies rejected"
done
echo "sched conformance: $accepted traces accepted ($scheds schedulers, $steps steps), $rejected corrupted copies rejected"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
