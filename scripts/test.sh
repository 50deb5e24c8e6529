#!/usr/bin/env bash
# The test command. Tier 1 (no Lean) always runs: the C core's GoogleTest suite, plain and under
# ASan+UBSan and TSan, the Spin models and the Frama-C WP proof of ring.c. Tier 2 runs whenever an
# upstream lean4 checkout is found (see scripts/build-toolchain.sh): the toolchain build, the
# spec's proofs and conformance, our Lean tests and the demos under both backends, and
# upstream's suite.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LEAN_URING_CACHE:-$HOME/.cache/lean-uring}
JOBS=${JOBS:-$(nproc)}
cd "$ROOT"

results=()
failed=0
step() {
  local name=$1; shift
  echo
  echo "==== $name"
  if "$@"; then results+=("PASS  $name"); else results+=("FAIL  $name"); failed=$((failed + 1)); fi
}

tier1() {
  local variant=$1 dir=$ROOT/build/tier1-$1 san=
  [ "$variant" = plain ] || san=$variant
  cmake -S "$ROOT" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DLU_SANITIZE="$san" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$JOBS" > "$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; return 1; }
  ctest --test-dir "$dir" -j"$JOBS" --output-on-failure
}

mkdir -p build
step "tier 1: C core tests" tier1 plain
step "tier 1: C core tests under ASan+UBSan" tier1 asan
step "tier 1: C core tests under TSan" tier1 tsan
step "tier 1: Spin models of the ring's orderings and the driver's liveness" spec/spin/check.sh
step "tier 1: Frama-C WP proof of ring.c against the model" spec/wp/run.sh
step "tier 1: differential fuzzer, uring vs posix, 60 s" \
  env LU_FUZZ_BUILD="$ROOT/build/fuzz" tests/fuzz/run.sh 60
step "tier 1: the fuzzer finds a planted bug" \
  env LU_FUZZ_BUILD="$ROOT/build/fuzz" LU_FUZZ_PLANT=1 tests/fuzz/run.sh 180
step "tier 1: differential fuzzer, ring vs emulation (slots.h), 60 s" \
  env LU_FUZZ_BUILD="$ROOT/build/fuzz" LU_FUZZ_TARGET=fuzz_slots tests/fuzz/run.sh 60
step "tier 1: the slots fuzzer finds a planted bug" \
  env LU_FUZZ_BUILD="$ROOT/build/fuzz" LU_FUZZ_TARGET=fuzz_slots LU_FUZZ_PLANT=1 tests/fuzz/run.sh 180
step "tier 1: both fuzzers under TSan, 30 s each" \
  env LU_FUZZ_BUILD="$ROOT/build/fuzz-tsan" LU_FUZZ_SANITIZE=tsan sh -c \
    'LU_FUZZ_TARGET=fuzz_ops tests/fuzz/run.sh 30 && LU_FUZZ_TARGET=fuzz_slots tests/fuzz/run.sh 30'

src=$(scripts/build-toolchain.sh --find-source 2>&1)
case $? in
0)
  stage1=$CACHE/build/stage1
  step "tier 2: toolchain build ($src)" scripts/build-toolchain.sh
  step "tier 2: spec proofs" spec/check.sh "$stage1/bin"
  step "tier 2: spec mutants: each planted protocol bug breaks a proof and has a counterexample" \
    spec/mutants.sh "$stage1/bin"
  step "tier 2: C ring conformance to the Lean model" \
    spec/conformance.sh "$stage1/bin" "$ROOT/build/tier1-plain/lu_tests"
  step "tier 2: fiber scheduler conformance to the Lean model, uring and posix" \
    spec/sched-conformance.sh "$stage1"
  step "tier 2: Lean tests, uring vs posix, compiled and interpreted" \
    tests/lean/run-backends.sh "$stage1"
  step "tier 2: the README's quick start, as written" tests/readme.sh "$stage1"
  step "tier 2: demos (urcp, echo, http), uring vs posix" tests/demos/run.sh "$stage1"
  step "tier 2: soak: echo at 1,000 connections for 30 s, a 10,000-file copy, uring and posix" \
    tests/soak/run.sh "$stage1" 30
  step "tier 2: upstream test suite, uring vs posix" scripts/upstream-suite.sh "$CACHE/build"
  ;;
2)
  echo "$src"
  results+=("FAIL  tier 2: upstream checkout at the wrong commit"); failed=$((failed + 1))
  ;;
*)
  echo
  echo "SKIPPED: tier 2 (toolchain, Lean tests, upstream suite): no upstream lean4 checkout: $src"
  echo "         set LEAN4_SRC to a lean4 checkout at the pinned commit to run it"
  ;;
esac

echo
echo "==== summary"
printf '%s\n' "${results[@]}"
echo "test groups: $(( ${#results[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
