# Shared by the demos' tests (sourced): a scratch directory removed at exit, PASS/FAIL lines
# counted in $failures, building an example, and starting a server on a free port.
# The sourcing script sets $ROOT, $stage1 and $demo (its name) first.
work=$(mktemp -d "/tmp/demo-$demo.XXXXXX")
server=
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null
  chmod -R u+rwx "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# build <source.lean> <name>: compile it with the toolchain into $work/<name>.
build() {
  (cd "$(dirname "$1")" && "$stage1/bin/lean" -c "$work/$2.c" "$(basename "$1")") &&
    "$stage1/bin/leanc" -O3 -o "$work/$2" "$work/$2.c"
}

# start_server <backend> <args...>: $work/$demo in the background on a free port, once it says
# it listens; sets $server and $port.
start_server() {
  local backend=$1; shift
  LEAN_IO_BACKEND=$backend "$work/$demo" "$@" 0 > "$work/out" 2> "$work/err" &
  server=$!
  for _ in $(seq 100); do
    port=$(sed -n "s/^$demo: listening on 127\\.0\\.0\\.1:\\([0-9]*\\)\$/\\1/p" "$work/out")
    [ -n "$port" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# finish: the summary line and the exit status.
finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$demo demo: $failures failures"
    exit 1
  fi
  echo "$demo demo: all passed"
}
