#!/bin/bash
# tests/fuzz/run.sh [SECONDS]: builds the differential fuzzer (fuzz_ops.cc) with libFuzzer,
# ASan and UBSan, and runs it for SECONDS (default 60) from the seeds of corpus/ (made by
# gen_corpus.sh).  Exits nonzero on any finding: a difference between the backends, a sanitizer
# report, a leaked fd, a crash or a hang; the input is then left in $LU_FUZZ_BUILD/artifacts/.
#   LU_FUZZ_BUILD   build directory (default /tmp/lu-fuzz-build; new inputs go to its corpus/)
#   LU_FUZZ_PLANT=1 plant the known bug of fuzz_ops.cc (uring pwrite drops a byte) and expect
#                   the fuzzer to find it, from no seeds (a seed has a long pwrite): exits 0
#                   only if the difference it reports is that pwrite.
set -u
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LU_FUZZ_BUILD:-/tmp/lu-fuzz-build}
plant=${LU_FUZZ_PLANT:-0}
flags=
seeds=$src/tests/fuzz/corpus
if [ "$plant" = 1 ]; then
	build=$build-planted
	flags=-DLU_FUZZ_PLANTED_BUG
	seeds=
	rm -rf "$build/corpus" "$build/artifacts"
fi
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	-DLU_SANITIZE=asan -DLU_FUZZ=ON "-DCMAKE_CXX_FLAGS=$flags" >"$build.cmake.log" 2>&1 ||
	{ cat "$build.cmake.log"; exit 2; }
cmake --build "$build" -j2 --target fuzz_ops >"$build.build.log" 2>&1 ||
	{ cat "$build.build.log"; exit 2; }
mkdir -p "$build/corpus" "$build/artifacts"
log=$build/fuzz.log
# Every input the fuzzer once found stays a regression test (libFuzzer runs files given alone).
if [ "$plant" != 1 ] && ls "$src"/tests/fuzz/crashes/* > /dev/null 2>&1; then
	"$build/fuzz_ops" "$src"/tests/fuzz/crashes/* > "$build/crashes.log" 2>&1 ||
		{ grep -v '^    #' "$build/crashes.log" | tail -30; echo "a past finding is back"; exit 1; }
	echo "past findings replayed: $(ls "$src"/tests/fuzz/crashes | wc -l), all equal"
fi
"$build/fuzz_ops" "$build/corpus" $seeds -max_total_time="$secs" \
	-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$build/artifacts/" >"$log" 2>&1
rc=$?
sed -n '/uring and posix differ\|ERROR: \|fds open after/,/^SUMMARY/p' "$log" | grep -v '^    #'
# Executions and coverage: the last status line (a finding ends the run before DONE).
grep -E '^#[0-9]+' "$log" | tail -1
grep -E '^artifact_prefix|stat::number_of_executed_units|stat::average_exec' "$log" | sort -u
if [ "$plant" = 1 ]; then
	if [ $rc -ne 0 ] && grep -q '^      posix: pwrite=' "$log"; then
		echo "planted bug found: $(ls -t "$build"/artifacts/* | head -1)"
		exit 0
	fi
	echo "planted bug NOT found in ${secs}s"
	exit 1
fi
[ $rc -eq 0 ] && echo "no finding in ${secs}s" || echo "FINDING (exit $rc): see $log and $build/artifacts/"
exit $rc
