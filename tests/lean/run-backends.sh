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
# Last, the checks that need an environment the main loop does not give (issue #13): writers
# sharing one open file, a low fd limit, a pseudo-terminal, closed standard descriptors.
# Their programs are env/*.lean, compiled (most also interpreted) and run under both backends.
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
  if ! (cd "$here/run" && timeout 300 "$lean" -c "$tmp/$name.c" "$test" && "$leanc" -o "$bin" "$tmp/$name.c") \
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

# The fiber tests again, linked with ASan (all) and TSan (the threaded ones): the runtime itself
# is not instrumented, so this catches what the sanitizers' allocator and interceptors see
# (a buffer freed twice or while the kernel still writes it, a leak, a race on a pthread or a
# syscall), under both backends, with the expected output.
for test in "$here"/run/uring_fiber_*.lean; do
  name=$(basename "$test" .lean)
  [[ -z $filter || $name == *$filter* || sanitizers == *$filter* ]] || continue
  [ -f "$tmp/$name.c" ] || continue
  sans=address
  [[ $name == *threads* || $name == *cancel* ]] && sans="address thread"
  for san in $sans; do
    bin=$tmp/$name.$san
    if ! "$leanc" -fsanitize=$san -o "$bin" "$tmp/$name.c" > "$bin.log" 2>&1; then
      fail "$name: link with -fsanitize=$san"; head -n 20 "$bin.log"; continue
    fi
    for backend in uring posix; do
      expected=$test.expected.out
      [ "$backend" = posix ] && [ -f "$test.posix.expected.out" ] && expected=$test.posix.expected.out
      run "$name.$backend.$san" "$expected" /dev/null env LEAN_IO_BACKEND=$backend \
        TSAN_OPTIONS="suppressions=$here/tsan.supp" "$bin"
    done
  done
done

# The README's Lean examples compile and run: under uring every one, and those above the ring
# (which import more than Init.IO.Ring) under posix too, with the same output.
if [[ -z $filter || readme == *$filter* ]]; then
  awk -v dir="$tmp" '/^```lean$/ {n++; f=dir "/readme_" n ".lean"; next}
                     /^```$/ {f=""} f {print > f}' "$here/../../README.md"
  for ex in "$tmp"/readme_*.lean; do
    name=$(basename "$ex" .lean)
    if ! (cd "$tmp" && "$lean" -c "$tmp/$name.c" "$ex" && "$leanc" -o "$tmp/$name.bin" "$tmp/$name.c") \
         > "$tmp/$name.log" 2>&1; then
      fail "README $name: compile"; head -n 20 "$tmp/$name.log"; continue
    fi
    (cd "$tmp" && LEAN_IO_BACKEND=uring "$tmp/$name.bin" > "$tmp/$name.uring.out" 2>&1) \
      && pass "README $name runs under uring" || { fail "README $name runs under uring"; cat "$tmp/$name.uring.out"; }
    grep -q '^import Init.IO.Ring$' "$ex" && continue
    if (cd "$tmp" && LEAN_IO_BACKEND=posix "$tmp/$name.bin" > "$tmp/$name.posix.out" 2>&1) \
       && cmp -s "$tmp/$name.uring.out" "$tmp/$name.posix.out"; then
      pass "README $name: posix output identical"
    else
      fail "README $name: posix output identical"; diff "$tmp/$name.uring.out" "$tmp/$name.posix.out" | head
    fi
  done
fi

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

# ---- Issue #13: environments the main loop cannot give -----------------------------------
# Each kind of environment has one helper; the programs are env/<name>.lean.

want() { [[ -z $filter || $1 == *$filter* ]]; }

# build_env <dir/name>: compile <dir>/<name>.lean (under tests/lean) into $tmp/env-<name>.
build_env() {
  local name=${1#*/} bin=$tmp/env-${1#*/}
  if (cd "$here/${1%/*}" && "$lean" -c "$bin.c" "$name.lean" && "$leanc" -o "$bin" "$bin.c") \
       > "$bin.log" 2>&1; then
    return 0
  fi
  fail "$1: compile"
  head -n 40 "$bin.log"
  return 1
}

# prog <compiled|interpreted> <backend> <dir/name>: set the array `cmd` to the command that
# runs that program under that backend, built by build_env or through `lean --run`.
prog() {
  if [ "$1" = compiled ]; then
    cmd=(env LEAN_IO_BACKEND="$2" "$tmp/env-${3#*/}")
  else
    cmd=(env LEAN_IO_BACKEND="$2" "$lean" --run "$here/$3.lean")
  fi
}

# shared_log <label> <'>' or '>>'> <file> <n> <writers> <command...>: run the command in a
# fresh directory with stdout and stderr on one open file, `log` (`>log 2>&1` or `>>log 2>&1`),
# then check with tools/check-lines.py that <file> there (`log`, or a file the command writes)
# holds every byte of each writer's n lines "<tag> <i> <payload>", and nothing else.
payload="the quick brown fox jumps over the lazy dog"
shared_log() {
  local label=$1 redirect=$2 file=$3 n=$4 writers=$5; shift 5
  local dir=$tmp/$label code summary
  mkdir -p "$dir"
  if [ "$redirect" = '>>' ]; then
    (cd "$dir" && timeout 60 "$@" >> log 2>&1)
  else
    (cd "$dir" && timeout 60 "$@" > log 2>&1)
  fi
  code=$?
  touch "$dir/$file"
  # shellcheck disable=SC2086 # one argument per writer
  if summary=$(python3 "$here/tools/check-lines.py" "$dir/$file" "$n" "$payload" $writers) &&
     [ $code -eq 0 ]; then
    pass "$label: $summary"
  else
    fail "$label (exit $code): $summary"
  fi
}

# "${with_nofile[@]}" <limit> <command...>: the command under a soft limit of <limit> open fds.
with_nofile=(bash -c 'ulimit -S -n "$0" && exec "$@"')

# one_notice <label> <expected> <command...>: like `run`, but stderr is kept apart: stdout
# must be <expected> and stderr exactly one line (auto's notice that it fell back to POSIX).
one_notice() {
  local label=$1 expected=$2; shift 2
  local dir=$tmp/$label
  mkdir -p "$dir"
  (cd "$dir" && timeout 300 "$@" < /dev/null > "$dir.out" 2> "$dir.err"; echo "exit: $?" >> "$dir.out") 2> /dev/null
  if diff -u "$expected" "$dir.out" > "$dir.diff" && [ "$(wc -l < "$dir.err")" -eq 1 ]; then
    pass "$label: $(cat "$dir.err")"
  else
    fail "$label, stderr: $(head -c 300 "$dir.err")"
    head -n 40 "$dir.diff"
  fi
}

# on_pty <label> <expected> <pipe|tty> <command...>: `run` with stdout and stderr on a new
# pseudo-terminal and stdin a pipe or that terminal (tools/pty-run.py types "Ada").
on_pty() {
  local label=$1 expected=$2 stdin=$3; shift 3
  run "$label" "$expected" /dev/null python3 "$here/tools/pty-run.py" "$stdin" $'Ada\n' "$@"
}

# closed_std <label> <expected> <command...>: run the command four times, with stdin, stdout,
# stderr and all three closed (the others on files), and compare what it left (its exit code,
# the visible output, report.txt) with <expected>.  A hang is killed after 10 s (exit 124).
closed_std() {
  local label=$1 expected=$2; shift 2
  local dir=$tmp/$label closed code
  mkdir -p "$dir"
  for closed in stdin stdout stderr all; do
    rm -rf "$dir/$closed"
    mkdir "$dir/$closed"
    (
      cd "$dir/$closed"
      case $closed in
        stdin) timeout 10 "$@" <&- > out 2> err ;;
        stdout) timeout 10 "$@" < /dev/null >&- 2> err ;;
        stderr) timeout 10 "$@" < /dev/null > out 2>&- ;;
        all) timeout 10 "$@" <&- >&- 2>&- ;;
      esac
      code=$?
      echo "== $closed closed: exit $code"
      for f in out err report.txt; do
        [ -f $f ] && { echo "-- $f"; cat $f; }
      done
    ) 2> /dev/null
  done > "$dir.out"
  if diff -u "$expected" "$dir.out" > "$dir.diff"; then
    pass "$label"
  else
    fail "$label"
    head -n 60 "$dir.diff"
  fi
}

# 1. Writers sharing one open file: every byte of every line must survive.  (Compiled only:
# the interpreter would only make the writers slower.)  A lost race does not show in every
# run: with stdout fully buffered its writer is done long before stderr's, so the two overlap
# for a moment only; with stdout flushed after each line they write side by side throughout.
if want shared && build_env env/shared_writers; then
  for backend in uring posix; do
    prog compiled $backend env/shared_writers
    shared_log "shared.stdout-stderr.$backend" '>' log 25000 "out:stream err" "${cmd[@]}" stdio 25000
    shared_log "shared.stdout-stderr-append.$backend" '>>' log 25000 "out:stream err" "${cmd[@]}" stdio 25000
    shared_log "shared.stdout-flushed-stderr.$backend" '>' log 25000 "out err" "${cmd[@]}" stdio-flush 25000
    shared_log "shared.parent-child.$backend" '>' log 25000 "parent child" "${cmd[@]}" child 25000
    shared_log "shared.two-append-handles.$backend" '>' a.log 25000 "a b" "${cmd[@]}" append a.log 25000
  done
fi

# 2. Threads that cannot set up a ring (no fd left for one).
if want ringless && build_env env/ringless; then
  for how in compiled interpreted; do
    for backend in uring posix; do
      prog $how $backend env/ringless
      run "ringless.$backend.$how" "$here/env/ringless.$backend.expected.out" /dev/null \
        "${with_nofile[@]}" 256 "${cmd[@]}"
    done
    prog $how auto env/ringless
    one_notice "ringless.auto.$how" "$here/env/ringless.posix.expected.out" \
      "${with_nofile[@]}" 256 "${cmd[@]}"
  done
fi

# 3. 1,000 threads with a file open each, under the usual limit of 1,024 fds.  (Compiled
# only: each run takes seconds, and about 4 GB, since each thread's Lean heap takes 4 MB.)
if want threads && build_env env/threads; then
  for backend in uring posix; do
    prog compiled $backend env/threads
    run "threads.$backend" "$here/env/threads.expected.out" /dev/null \
      "${with_nofile[@]}" 1024 "${cmd[@]}"
  done
fi

# 5, 6. stdout on a terminal: line buffering, long writes, the flush before a read of stdin.
if want tty && build_env env/tty; then
  for how in compiled interpreted; do
    for backend in uring posix; do
      prog $how $backend env/tty
      on_pty "tty.write.$backend.$how" "$here/env/tty.write.expected.out" pipe "${cmd[@]}" write
      for stdin in pipe tty; do
        on_pty "tty.prompt-stdin-$stdin.$backend.$how" "$here/env/tty.prompt-$stdin.expected.out" \
          $stdin "${cmd[@]}" prompt
      done
    done
  done
fi

# 8. Closed standard descriptors.
if want closed && build_env env/closed_std; then
  for how in compiled interpreted; do
    for backend in uring posix; do
      prog $how $backend env/closed_std
      closed_std "closed_std.$backend.$how" "$here/env/closed_std.expected.out" "${cmd[@]}"
    done
  done
fi

# 9. File errors that need a small filesystem (ENOSPC, on a tmpfs of 1 MiB mounted here) and an
# unprivileged user (EACCES, as nobody through setpriv, compiled only: nobody cannot reach the
# toolchain under root's home): both need root, as CI is.
if want fs_limits && build_env env/fs_limits; then
  if [ "$(id -u)" -ne 0 ]; then
    fail "fs_limits: needs root to mount a small filesystem and to run as nobody"
  else
    for backend in uring posix; do
      for how in compiled interpreted; do
        prog $how $backend env/fs_limits
        label=fs_limits.enospc.$backend.$how
        mkdir -p "$tmp/$label/small"
        if mount -t tmpfs -o size=1m tmpfs "$tmp/$label/small"; then
          run "$label" "$here/env/fs_limits.enospc.expected.out" /dev/null "${cmd[@]}" enospc small
          umount "$tmp/$label/small"
        else
          fail "$label: cannot mount a tmpfs"
        fi
      done
      label=fs_limits.eacces.$backend
      mkdir -p "$tmp/$label" && chmod 755 "$tmp/$label" && cp "$tmp/env-fs_limits" "$tmp/$label/" &&
        echo secret > "$tmp/$label/secret" && chmod 600 "$tmp/$label/secret"
      run "$label" "$here/env/fs_limits.eacces.expected.out" /dev/null setpriv --reuid=65534 \
        --regid=65534 --clear-groups env LEAN_IO_BACKEND=$backend ./env-fs_limits eacces secret
    done
  fi
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
