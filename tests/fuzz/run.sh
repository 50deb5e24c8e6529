#!/bin/bash
# tests/fuzz/run.sh [SECONDS]: builds a differential fuzzer with libFuzzer and ASan+UBSan (or
# TSan), and runs it for SECONDS (default 60) from its seeds (made by gen_corpus.sh): fuzz_ops.cc (the
# backends of ops.h, seeds in corpus/) or fuzz_slots.cc (the engines of slots.h, seeds in
# corpus-slots/).  Exits nonzero on any finding: a difference, a sanitizer report, a leaked fd,
# a crash or a hang; the input is then left in $LU_FUZZ_BUILD/artifacts/ (artifacts-slots/).
#   LU_FUZZ_TARGET  fuzz_ops (default) or fuzz_slots
#   LU_FUZZ_SANITIZE asan (default: ASan+UBSan) or tsan (fuzz_slots runs each side on a
#                   thread of its own; the build directory must then be another one)
#   LU_FUZZ_BUILD   build directory (default /tmp/lu-fuzz-build; new inputs go to its corpus/,
#                   or corpus-slots/)
#   LU_FUZZ_PLANT=1 plant the target's known bug (a pwrite that drops a byte: on the uring side
#                   of fuzz_ops, the emulated side of fuzz_slots) and expect the fuzzer to find
#                   it, from no seeds (a seed has a long pwrite): exits 0 only if the
#                   difference it reports is that pwrite.
set -u
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${LU_FUZZ_BUILD:-/tmp/lu-fuzz-build}
plant=${LU_FUZZ_PLANT:-0}
target=${LU_FUZZ_TARGET:-fuzz_ops}
san=${LU_FUZZ_SANITIZE:-asan}
case $san in
asan) ;;
tsan) export TSAN_OPTIONS="suppressions=$src/tests/fuzz/tsan.supp halt_on_error=1 ${TSAN_OPTIONS:-}" ;;
*) echo "LU_FUZZ_SANITIZE: asan or tsan, not $san"; exit 2 ;;
esac
flags=
case $target in
fuzz_ops) sfx= planted='^      posix: pwrite=' ;;
fuzz_slots) sfx=-slots planted='^        emu: [0-9]* pwrite ' ;;
*) echo "LU_FUZZ_TARGET: fuzz_ops or fuzz_slots, not $target"; exit 2 ;;
esac
seeds=$src/tests/fuzz/corpus$sfx
crashes=$src/tests/fuzz/crashes$sfx
if [ "$plant" = 1 ]; then
	build=$build-planted
	flags=-DLU_FUZZ_PLANTED_BUG
	seeds=
	rm -rf "$build/corpus$sfx" "$build/artifacts$sfx"
fi
corpus=$build/corpus$sfx
artifacts=$build/artifacts$sfx
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	-DLU_SANITIZE="$san" -DLU_FUZZ=ON "-DCMAKE_CXX_FLAGS=$flags" >"$build.cmake.log" 2>&1 ||
	{ cat "$build.cmake.log"; exit 2; }
cmake --build "$build" -j2 --target "$target" >"$build.build.log" 2>&1 ||
	{ cat "$build.build.log"; exit 2; }
mkdir -p "$corpus" "$artifacts"
log=$build/fuzz$sfx.log
# Every input the fuzzer once found stays a regression test (libFuzzer runs files given alone).
if [ "$plant" != 1 ] && ls "$crashes"/* > /dev/null 2>&1; then
	"$build/$target" "$crashes"/* > "$build/crashes$sfx.log" 2>&1 ||
		{ grep -v '^    #' "$build/crashes$sfx.log" | tail -30; echo "a past finding is back"; exit 1; }
	echo "past findings replayed: $(ls "$crashes" | wc -l), all equal"
fi
"$build/$target" "$corpus" $seeds -max_total_time="$secs" \
	-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" >"$log" 2>&1
rc=$?
sed -n '/uring and posix differ\|ring and emulation differ\|ERROR: \|fds open after\|never completed/,/^SUMMARY/p' "$log" |
	grep -v '^    #'
# Executions and coverage: the last status line (a finding ends the run before DONE).
grep -E '^#[0-9]+' "$log" | tail -1
grep -E '^artifact_prefix|stat::number_of_executed_units|stat::average_exec' "$log" | sort -u
if [ "$plant" = 1 ]; then
	if [ $rc -ne 0 ] && grep -q "$planted" "$log"; then
		echo "planted bug found: $(ls -t "$artifacts"/* | head -1)"
		exit 0
	fi
	echo "planted bug NOT found in ${secs}s"
	exit 1
fi
[ $rc -eq 0 ] && echo "no finding in ${secs}s" || echo "FINDING (exit $rc): see $log and $artifacts/"
exit $rc
