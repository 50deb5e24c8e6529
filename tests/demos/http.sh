#!/usr/bin/env bash
# The HTTP demo's test (examples/http.lean), under LEAN_IO_BACKEND=uring and =posix, in fiber
# mode (--threads 2: receivers; and with --plain-recv) and --blocking mode: the request set of tests/demos/http_check.py (every
# answer compared byte for byte, and whether the connection stays open or is closed), the same
# against a server with --body-size 100000, 50,000 requests one after the other on one
# connection (tests/demos/http_long.py), and a `wrk -c 64 -d 2` run that must see no socket
# error and only 200s (skipped with a note if wrk is not installed).  The server must print
# nothing on stderr.
#
#   tests/demos/http.sh STAGE1_DIR      (prints PASS/FAIL lines; exit 1 on any failure)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stage1=${1:?usage: tests/demos/http.sh STAGE1_DIR}
demo=http
. "$ROOT/tests/demos/lib.sh"

build "$ROOT/examples/http.lean" http || { echo "FAIL: building http"; exit 1; }

# stop_server <name>: kill it; a failure if it had died already or wrote to stderr.
stop_server() {
  if kill "$server" 2>/dev/null; then
    wait "$server" 2>/dev/null
    if [ -s "$work/err" ]; then fail "$1: stderr: $(head -c 500 "$work/err")"; fi
  else
    wait "$server"
    fail "$1: the server died (exit $?): $(head -c 500 "$work/err")"
  fi
  server=
}

# check <name> <http_check.py args...>: the request set's lines, each prefixed with `name`.
check() {
  local name=$1; shift
  python3 "$ROOT/tests/demos/http_check.py" "$port" "$@" > "$work/check" 2>&1
  while IFS= read -r line; do
    case $line in
      PASS:*) pass "$name: ${line#PASS: }" ;;
      FAIL:*) fail "$name: ${line#FAIL: }" ;;
      *) fail "$name: $line" ;;
    esac
  done < "$work/check"
}

have_wrk=1
command -v wrk > /dev/null || { have_wrk=0; echo "SKIPPED: wrk runs (wrk is not installed)"; }

for backend in uring posix; do
  for mode in "--threads 2" "--threads 2 --plain-recv" "--blocking"; do
    name="http $mode, $backend"
    # shellcheck disable=SC2086
    if ! start_server "$backend" $mode; then
      fail "$name: the server did not start: $(cat "$work/err")"
      stop_server "$name"
      continue
    fi
    check "$name"
    if [ "$have_wrk" -eq 1 ]; then
      wrk -t 2 -c 64 -d 2 "http://127.0.0.1:$port/" > "$work/wrk" 2>&1
      reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/wrk")
      if [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -q "Socket errors\|Non-2xx" "$work/wrk"; then
        pass "$name: wrk -c 64 -d 2: $reqs requests, no errors"
      else
        fail "$name: wrk -c 64 -d 2: $(tr '\n' ' ' < "$work/wrk")"
      fi
    fi
    # 50,000 requests on one connection: the blocking loop once overflowed its stack at 32,745.
    if python3 "$ROOT/tests/demos/http_long.py" "$port" 50000 > "$work/long" 2>&1 &&
       kill -0 "$server" 2>/dev/null; then
      pass "$name: 50000 requests on one keep-alive connection"
    else
      fail "$name: 50000 requests on one connection: $(tail -1 "$work/long"); $(tail -1 "$work/err")"
    fi
    stop_server "$name"

    # shellcheck disable=SC2086
    if start_server "$backend" $mode --body-size 100000; then
      check "$name, --body-size 100000" 100000
    else
      fail "$name, --body-size 100000: the server did not start: $(cat "$work/err")"
    fi
    stop_server "$name, --body-size 100000"
  done
done

finish
