#!/usr/bin/env bash
# The echo demo's test (examples/echo.lean), under LEAN_IO_BACKEND=uring and =posix, in fiber
# mode (--threads 2: receivers; and with --plain-recv) and --blocking mode.  Against each server, tests/demos/echo_check.c opens
# 500 connections at once, each sending random bytes (1 byte to 600 KiB) and checking every byte
# echoed, plus 20 that reset their connection mid-stream; then 10 more connections check that
# the server still serves.  The server must then stop by itself (--max-conns 530), report 530
# connections served, exit 0 and print nothing on stderr.
#
#   tests/demos/echo.sh STAGE1_DIR      (prints PASS/FAIL lines; exit 1 on any failure)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stage1=${1:?usage: tests/demos/echo.sh STAGE1_DIR}
demo=echo
. "$ROOT/tests/demos/lib.sh"

build "$ROOT/examples/echo.lean" echo &&
  cc -O2 -o "$work/echo_check" "$ROOT/tests/demos/echo_check.c" ||
  { echo "FAIL: building echo and echo_check"; exit 1; }

# wait_server <seconds>: the server's exit status, or 124 after killing it when it does not end.
wait_server() {
  for _ in $(seq $(($1 * 10))); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server" 2>/dev/null && kill "$server"
  wait "$server"
  local rc=$?
  server=
  return $rc
}

conns=500 resets=20 after=10
total=$((conns + resets + after))
for backend in uring posix; do
  for mode in "--threads 2" "--threads 2 --plain-recv" "--blocking"; do
    name="echo $mode, $backend"
    # shellcheck disable=SC2086
    if ! start_server "$backend" $mode --max-conns "$total"; then
      fail "$name: the server did not start: $(cat "$work/err")"
      wait_server 1
      continue
    fi
    if "$work/echo_check" -p "$port" -c "$conns" -r "$resets" -s "$port" > "$work/check" 2>&1; then
      pass "$name: $(cat "$work/check")"
    else
      fail "$name: $(cat "$work/check")"
    fi
    if "$work/echo_check" -p "$port" -c "$after" -s 7 > "$work/check" 2>&1; then
      pass "$name: still serving after the resets"
    else
      fail "$name: after the resets: $(cat "$work/check")"
    fi
    wait_server 20
    rc=$?
    served=$(grep -c "^echo: served $total connections$" "$work/out")
    if [ "$rc" -eq 0 ] && [ "$served" -eq 1 ] && [ ! -s "$work/err" ]; then
      pass "$name: stopped after $total connections"
    else
      fail "$name: exit $rc, output $(tr '\n' ' ' < "$work/out"), stderr $(head -c 500 "$work/err")"
    fi
  done
done

finish
