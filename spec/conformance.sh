#!/usr/bin/env bash
# Trace conformance, tier 2: the C ring and the fake kernel against the Lean twin.
#
#   spec/conformance.sh <lean-bin-dir> <lu_tests binary>
#
# 1. Compiles spec/Conformance.lean and the spec modules it imports to a native program
#    (lean -c, then leanc), against the core library in <lean-bin-dir>/../lib/lean or
#    $LEAN_STDLIB (a directory holding Init/Prelude.olean, and libInit.a to link with).
# 2. Runs the trace-writing test (Conformance.*) of lu_tests with LU_TRACE_DIR set.
# 3. Replays every trace with the twin, which must accept it, and four corrupted copies of
#    each (a kGetSqe dropped, a uReap duplicated, a reaped id changed, the kernel observing a
#    tail the user never published), which it must reject.
# Prints "N passed, M failed" and exits non-zero on any failure; prints "SKIPPED: <reason>"
# and exits 0 when there is no lean.
set -euo pipefail

bindir=${1:?usage: spec/conformance.sh <lean-bin-dir> <lu_tests binary>}
tests=${2:?usage: spec/conformance.sh <lean-bin-dir> <lu_tests binary>}
lean="$bindir/lean"
leanc="$bindir/leanc"
spec=$(cd "$(dirname "$0")" && pwd)

if [ ! -x "$lean" ]; then echo "SKIPPED: no lean at $lean"; exit 0; fi
[ -x "$leanc" ] || { echo "FAIL: $lean has no leanc next to it"; exit 1; }
[ -x "$tests" ] || { echo "FAIL: no lu_tests binary at $tests"; exit 1; }
stdlib=${LEAN_STDLIB:-$bindir/../lib/lean}
[ -f "$stdlib/Init/Prelude.olean" ] || { echo "FAIL: no Init/Prelude.olean under $stdlib (set LEAN_STDLIB)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lean-uring-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LEAN_PATH="$stdlib:$work/olean"

. "$spec/twin-build.sh"
build_twin Conformance "$work/conformance"

mkdir "$work/traces"
LU_TRACE_DIR="$work/traces" "$tests" --gtest_filter='Conformance.*' >"$work/gtest.log" 2>&1 \
	|| { cat "$work/gtest.log"; echo "FAIL: $tests --gtest_filter=Conformance.*"; exit 1; }
grep '^wrote ' "$work/gtest.log" || true
traces=("$work"/traces/*.trace)
[ -f "${traces[0]}" ] || { echo "FAIL: the test wrote no traces"; exit 1; }

# corrupt <kind> <in> <out>: one deliberate protocol violation, always on the first match.
corrupt() {
	case $1 in
	drop-kGetSqe)   awk '!d && $1 == "kGetSqe" { d = 1; next } { print }' "$2" ;;
	dup-uReap)      awk '{ print } !d && $1 == "uReap" { print; d = 1 }' "$2" ;;
	change-id)      awk '!d && $1 == "uReap" { $3 = $3 + 1; d = 1 } { print }' "$2" ;;
	future-tail)    awk 'NR == FNR { if ($1 == "ring") s = $4; if ($1 == "uGetSqe") n++; next }
			     !d && $1 == "kLoadTail" { $2 = sprintf("%.0f", (s + n + 1) % 4294967296); d = 1 }
			     { print }' "$2" "$2" ;;
	esac >"$3"
}

passed=0 failed=0 accepted=0 rejected=0 steps=0
fail() { failed=$((failed + 1)); [ "$failed" -le 10 ] && echo "FAIL: $*"; return 0; }
for t in "${traces[@]}"; do
	name=$(basename "$t" .trace)
	set +e; out=$("$work/conformance" "$t"); rc=$?; set -e
	if [ "$rc" = 0 ] && [[ $out == "accepted "* ]]; then
		passed=$((passed + 1)) accepted=$((accepted + 1)) steps=$((steps + $(echo "$out" | awk '{ print $2 }')))
	else
		fail "$name: exit $rc: $out"
	fi
	for kind in drop-kGetSqe dup-uReap change-id future-tail; do
		bad="$work/$name.$kind.trace"
		corrupt "$kind" "$t" "$bad"
		if cmp -s "$t" "$bad"; then fail "$name: $kind found nothing to corrupt"; continue; fi
		set +e; out=$("$work/conformance" "$bad"); rc=$?; set -e
		if [ "$rc" = 1 ] && [[ $out == "rejected"* ]]; then
			passed=$((passed + 1)) rejected=$((rejected + 1))
		else
			fail "$name.$kind: exit $rc, wanted a rejection: $out"
		fi
	done
done

echo "conformance: $accepted traces accepted ($steps steps), $rejected corrupted copies rejected"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
