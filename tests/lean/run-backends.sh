#!/usr/bin/env bash
# Run every tests/lean/run/uring_*.lean under LEAN_IO_BACKEND=uring and =posix, interpreted
# (lean --run) and compiled (lean -c, leanc), and compare each run's output (stdout and stderr
# interleaved as they reach the file, then an "exit: N" line) with <test>.lean.expected.out.
# Under posix, <test>.lean.posix.expected.out is used instead when it exists: that is how the
# intentional differences of docs/differences.md are tested.  Otherwise all four runs must
# produce exactly the expected output, so they are identical to each other.
# stdin comes from <test>.input when it exists, else /dev/null.
# Then the startup checks: an unknown LEAN_IO_BACKEND and a forced `uring` where io_uring is
# forbidden (tools/no-io-uring.c) must fail loudly; `auto` there must run on POSIX.
# uring_backend.lean prints IO.backendName, so no run can pass on the wrong backend.
#
#   tests/lean/run-backends.sh <stage1-dir> [test-name-filter]
set -uo pipefail

stage1=${1:?usage: run-backends.sh <stage1-dir> [filter]}
filter=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lean=$stage1/bin/lean
leanc=$stage1/bin/leanc
[ -x "$lean" ] || { echo "run-backends: no lean at $lean" >&2; exit 2; }

tmp=$(mktemp -d /tmp/run-backends.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

# run <label> <expected-file> <input> <command...>: run in a fresh directory, compare.
run() {
  local label=$1 expected=$2 input=$3; shift 3
  local dir=$tmp/$label
  mkdir -p "$dir"
  # (the subshell's own stderr is dropped: bash reporting an expected crash is noise)
  (cd "$dir" && timeout 300 "$@" < "$input" > "$dir.out" 2>&1; echo "exit: $?" >> "$dir.out") 2> /dev/null
  if diff -u "$expected" "$dir.out" > "$dir.diff"; then
    pass "$label"
  else
    fail "$label"
    head -n 40 "$dir.diff"
  fi
}

for test in "$here"/run/uring_*.lean; do
  name=$(basename "$test" .lean)
  [[ -z $filter || $name == *$filter* ]] || continue
  input=/dev/null
  [ -f "$here/run/$name.input" ] && input=$here/run/$name.input
  bin=$tmp/$name.bin
  if ! (cd "$here/run" && "$lean" -c "$tmp/$name.c" "$test" && "$leanc" -o "$bin" "$tmp/$name.c") \
       > "$tmp/$name.compile.log" 2>&1; then
    fail "$name: compile"
    head -n 40 "$tmp/$name.compile.log"
  fi
  for backend in uring posix; do
    expected=$test.expected.out
    [ "$backend" = posix ] && [ -f "$test.posix.expected.out" ] && expected=$test.posix.expected.out
    run "$name.$backend.interpreted" "$expected" "$input" env LEAN_IO_BACKEND=$backend "$lean" --run "$test"
    [ -x "$bin" ] && run "$name.$backend.compiled" "$expected" "$input" env LEAN_IO_BACKEND=$backend "$bin"
  done
done

# A backend that is not one of the allowed values is a loud startup failure, not a default.
if [[ -z $filter || backend == *$filter* ]]; then
  out=$(LEAN_IO_BACKEND=bogus "$lean" --run "$here/run/uring_backend.lean" 2>&1 < /dev/null)
  code=$?
  if [ $code -ne 0 ] && [[ $out == *LEAN_IO_BACKEND* ]] && [[ $out != *"backend:"* ]]; then
    pass "LEAN_IO_BACKEND=bogus fails at startup (exit $code)"
  else
    fail "LEAN_IO_BACKEND=bogus fails at startup (exit $code): $out"
  fi
fi

# Where io_uring is forbidden (seccomp, as in many containers): a forced `uring` fails at
# startup, and `auto` falls back to POSIX, visibly.
if [[ -z $filter || backend == *$filter* ]]; then
  if cc -O2 -o "$tmp/no-io-uring" "$here/tools/no-io-uring.c" 2> "$tmp/no-io-uring.log"; then
    out=$(LEAN_IO_BACKEND=uring "$tmp/no-io-uring" "$lean" --run "$here/run/uring_backend.lean" 2>&1 < /dev/null)
    code=$?
    if [ $code -ne 0 ] && [[ $out == *io_uring* ]] && [[ $out != *"backend:"* ]]; then
      pass "LEAN_IO_BACKEND=uring without io_uring fails at startup (exit $code)"
    else
      fail "LEAN_IO_BACKEND=uring without io_uring fails at startup (exit $code): $out"
    fi
    run "uring_backend.auto-without-io_uring.interpreted" "$here/run/uring_backend.lean.posix.expected.out" \
      /dev/null env LEAN_IO_BACKEND=auto "$tmp/no-io-uring" "$lean" --run "$here/run/uring_backend.lean"
  else
    fail "cannot build tools/no-io-uring.c: $(cat "$tmp/no-io-uring.log")"
  fi
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
