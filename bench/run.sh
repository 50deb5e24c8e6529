#!/usr/bin/env bash
# The benchmark of issue 9: every case side by side in one run, every result checked, one table
# (throughput, p50/p99 latency, ratio to the case's reference row), the issue's targets judged.
#  - cp: one 1 GiB file; 64 files of 16 MiB; a tree of 10,000 files of 4 KiB in 100
#    directories.  naivecp (examples/naivecp.lean, the reference), urcp -j 2 under uring and
#    posix (examples/urcp.lean), cp / cp -r (coreutils), liburing's io_uring-cp (one process
#    per file, 2 at a time).  Median wall time of RUNS copies, each into a fresh destination
#    after a sync, with its sources just read into the page cache, the copy alone timed; every
#    copy is compared with its source (cmp, diff -r).
#  - TCP echo at 1, 64 and 512 connections, 64-byte round trips (bench/echo_load.c, 2 threads,
#    every byte checked): examples/echo.lean --blocking (the naive threaded Lean server, the
#    reference), --threads 2 under uring and posix, --plain-recv under uring (the server with
#    a recv submitted per round trip instead of its receivers' multishot recv), liburing's
#    echo-server.
#  - HTTP GET / under wrk (2 threads, keep-alive) at 1, 64 and 512 connections:
#    examples/http.lean --blocking (the reference), --threads 2 under uring and posix (and
#    --plain-recv under uring), nginx
#    with 2 workers serving the same 13-byte body.  The body is checked with curl before each
#    load; any non-2xx response or socket error wrk reports fails the row.
#  Every server figure is the run with the median requests/s of RUNS, each on a fresh port.
# Writes the table, the machine and the date to RESULTS/run-<date>.txt, the rows to .dat (tab
# separated, a block per case) and a plot of them to .png (bench/plot.gp).  A row whose program
# is missing or fails says FAILED and the others go on; the exit status is then 1.  liburing's
# programs are not built here: pass their paths, or their rows say skipped.
#
#   bench/run.sh [--io-uring-cp PATH] [--uring-echo-server PATH] [stage1-dir]
#   env: QUICK=1 (a smoke run of about a minute: small sizes, 1 s loads, one run per figure),
#        IO_URING_CP, URING_ECHO_SERVER (the peers' paths), BENCH_DIR (default ~/tmp),
#        RESULTS (default bench/results), RUNS (3), BIG_MIB (1024), FILES (64), FILE_MIB (16),
#        TREE_FILES (10000), TREE_DIRS (100), TREE_KIB (4), CONNS ("1 64 512"), SECS (5 s per
#        load), ECHO_SIZE (64), THREADS (2: server threads, nginx workers, urcp -j),
#        PREBUILT (a directory holding urcp, naivecp, echo, http already built: no compiling)
# A full run takes about 11 minutes on 2 cores; other work on the machine shows in its figures
# (the load average is recorded at the start and the end).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: bench/run.sh [--io-uring-cp PATH] [--uring-echo-server PATH] [stage1-dir]"
io_uring_cp=${IO_URING_CP:-}
uring_echo=${URING_ECHO_SERVER:-}
while [ $# -gt 0 ]; do
  case $1 in
    --io-uring-cp) io_uring_cp=${2:?$usage}; shift 2 ;;
    --uring-echo-server) uring_echo=${2:?$usage}; shift 2 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || { echo "$usage" >&2; exit 2; }
stage1=${1:-$HOME/.cache/lean-uring/build/stage1}

# full_or_quick <full> <quick>: the default of a size, by QUICK.
full_or_quick() { if [ -n "${QUICK:-}" ]; then echo "$2"; else echo "$1"; fi; }
runs=${RUNS:-$(full_or_quick 3 1)}
big_mib=${BIG_MIB:-$(full_or_quick 1024 64)}
files=${FILES:-$(full_or_quick 64 16)}
file_mib=${FILE_MIB:-$(full_or_quick 16 4)}
tree_files=${TREE_FILES:-$(full_or_quick 10000 1000)}
tree_dirs=${TREE_DIRS:-$(full_or_quick 100 10)}
tree_kib=${TREE_KIB:-4}
conns=${CONNS:-1 64 512}
secs=${SECS:-$(full_or_quick 5 1)}
echo_size=${ECHO_SIZE:-64}
threads=${THREADS:-2}
bench_dir=${BENCH_DIR:-$HOME/tmp}
results=${RESULTS:-$ROOT/bench/results}
body="Hello, world"$'\n'   # what examples/http serves by default, and nginx is told to serve

# Hundreds of connections, each an fd in the load and one in the server.
ulimit -n "$(ulimit -Hn)" 2> /dev/null
mkdir -p "$bench_dir" "$results" || exit 1
work=$(mktemp -d "$bench_dir/lean-uring-bench.XXXXXX") || exit 1
server=
cleanup() {
  [ -z "$server" ] || stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
note() { echo "bench: $*" >&2; }
failed=0

stamp=$(date -u '+%Y-%m-%d-%H%M')${QUICK:+-quick}
when=$(date -u '+%Y-%m-%d %H:%M UTC')
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1),"
machine+=" $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)"
bench_fs="$bench_dir ($(df -T "$bench_dir" | awk 'NR == 2 {print $2 " on " $1}'))"
# A DAMON scheme that pages memory out shrinks the page cache behind the copies' back.
damon=$(cat /sys/kernel/mm/damon/admin/kdamonds/*/contexts/*/schemes/*/action 2> /dev/null | sort -u | paste -sd,)
[ -z "$damon" ] || bench_fs+=", DAMON scheme: $damon"
load_avg=$(cut -d' ' -f1 /proc/loadavg)

## Programs.  A missing or broken one turns its rows into FAILED, with the reason in broken[].
declare -A broken
mkdir -p "$work/bin" "$work/build"
for p in urcp naivecp echo http; do
  if [ -n "${PREBUILT:-}" ]; then
    if [ -x "$PREBUILT/$p" ]; then ln -s "$PREBUILT/$p" "$work/bin/$p"; else broken[$p]="no $PREBUILT/$p"; fi
  elif [ ! -f "$ROOT/examples/$p.lean" ]; then
    broken[$p]="examples/$p.lean is missing"
  elif [ ! -x "$stage1/bin/lean" ]; then
    broken[$p]="no toolchain at $stage1"
  else
    note "compiling examples/$p.lean"
    (cd "$ROOT/examples" && "$stage1/bin/lean" -c "$work/build/$p.c" "$p.lean" &&
       "$stage1/bin/leanc" -O3 -o "$work/bin/$p" "$work/build/$p.c") > "$work/build/$p.log" 2>&1 &
  fi
done
cc -O2 -std=gnu11 -pthread -o "$work/bin/echo_load" "$ROOT/bench/echo_load.c" \
  > "$work/build/echo_load.log" 2>&1 || broken[echo_load]="bench/echo_load.c does not compile"
wait
for p in urcp naivecp echo http; do
  if [ -z "${broken[$p]:-}" ] && [ ! -x "$work/bin/$p" ]; then
    broken[$p]="examples/$p.lean does not compile"
    note "${broken[$p]}:"; head -20 "$work/build/$p.log" >&2
  fi
done
for tool in wrk curl nginx gnuplot; do
  command -v "$tool" > /dev/null || broken[$tool]="$tool is missing (scripts/install-deps.sh)"
done
# peer <path> <env name> <program>: why the liburing peer's rows cannot run, or nothing.
peer() {
  if [ -z "$1" ]; then echo "skipped: pass $2=/path/to/$3"
  elif [ ! -x "$1" ]; then echo "FAILED: $1 is not executable"; fi
}
broken[io_uring_cp]=$(peer "$io_uring_cp" IO_URING_CP io_uring-cp)
broken[uring_echo]=$(peer "$uring_echo" URING_ECHO_SERVER echo-server)
# The result of a row that cannot run: a peer's own note, else FAILED and the reason.
unrunnable() { case ${broken[$1]} in skipped:* | FAILED:*) echo "${broken[$1]}" ;; *) echo "FAILED: ${broken[$1]}" ;; esac; }
runnable() { [ -z "${broken[$1]:-}" ]; }

# io_uring-cp copies one file: this gives it the other copiers' arguments, SRC... DSTDIR or
# -r SRCDIR DST, and runs a process per file, $threads at a time (as urcp gets -j $threads).
cat > "$work/bin/iucp" <<EOF
#!/usr/bin/env bash
set -eo pipefail
if [ "\$1" = -r ]; then
  mkdir "\$3"
  find "\$2" -mindepth 1 -type d -printf "\$3/%P\\0" | xargs -0 -r mkdir
  find "\$2" -type f -printf "%p\\0\$3/%P\\0" | xargs -0 -r -n 2 -P $threads "$io_uring_cp"
else
  dst=\${!#}
  for f in "\${@:1:\$#-1}"; do printf '%s\\0%s\\0' "\$f" "\$dst/\${f##*/}"; done |
    xargs -0 -r -n 2 -P $threads "$io_uring_cp"
fi
EOF
# nginx, configured per port: worker_processes as our threads, the same body, keep-alive
# without a request limit (wrk's connections would otherwise be closed and counted as errors).
mkdir -p "$work/nginx"
cat > "$work/bin/nginx-serve" <<EOF
#!/bin/sh
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  default_type text/plain;
  server {
    listen 127.0.0.1:\$1;
    location / { return 200 "Hello, world\\\\n"; }
  }
}
CONF
exec nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
EOF
chmod +x "$work/bin/iucp" "$work/bin/nginx-serve"
printf '%s' "$body" > "$work/body.expected"

## The rows, in table order: key -> case, competitor, throughput, unit, p50, p99, result.
keys=()
declare -A ROWCASE COMP TPUT UNIT P50 P99 RESULT
cases=()
declare -A TITLE REF
# new_case <case> <unit> <title>: the rows added next belong to it; its first row is the reference.
new_case() { cases+=("$1"); UNIT[$1]=$2; TITLE[$1]=$3; cur_case=$1; }
# add_row <key> <competitor> <throughput> <p50> <p99> <result>: one row of the current case.
add_row() {
  keys+=("$1"); ROWCASE[$1]=$cur_case; COMP[$1]=$2; TPUT[$1]=$3; P50[$1]=$4; P99[$1]=$5; RESULT[$1]=$6
  [ -n "${REF[$cur_case]:-}" ] || REF[$cur_case]=$1
  case $6 in FAILED*) failed=1 ;; esac
  note "[${TITLE[$cur_case]}] $2: ${3:+$3 ${UNIT[$cur_case]}, }${4:+p50 $4 us, p99 $5 us, }$6"
}
# round: the throughput on stdin with the digits that matter.
round() { awk '{printf($1 < 10 ? "%.2f\n" : $1 < 100 ? "%.1f\n" : "%.0f\n", $1)}'; }
# median_line <lines...>: the line with the median first field.
median_line() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

## Copies.  srcs: the case's source files (files mode: SRC... into an empty DSTDIR); src_tree:
## its source directory (tree mode: -r SRCDIR DST, with DST the new copy).  Each copy gets a
## directory of its own under $work/copies.
ncopies=0
# check_copy <mode> <dst>: nothing if dst is the copy, else what differs.
check_copy() {
  if [ "$1" = tree ]; then
    (cd "$work" && diff -rq "${src_tree#"$work/"}" "${2#"$work/"}" 2>&1 | head -1)
  else
    for f in "${srcs[@]}"; do
      cmp -s "$f" "$2/${f##*/}" || { echo "${2#"$work/"}/${f##*/} differs from its source"; return; }
    done
  fi
}
# warm_sources <mode>: read the sources into the page cache.  Written once, they would not stay
# there: a DAMON pageout scheme (as on a Firecracker VM that hands idle memory back to its host)
# evicts pages idle for seconds, and a copy would then time the disk.
warm_sources() {
  if [ "$1" = tree ]; then find "$src_tree" -type f -exec cat {} + > /dev/null; else cat "${srcs[@]}" > /dev/null; fi
}
# copy_row <key> <competitor> <program> <mode> <command...>: the median of $runs timed copies.
# A copy is deleted once checked, unless keep_copies is set (the tree): ext4 does not reuse an
# inode freed in the last minute (recently_deleted()), and skipping thousands of them costs each
# new file ~1 ms (cp -r of the 10,000-file tree: 8 s right after deleting its previous copy,
# 0.35 s otherwise).
copy_row() {
  local key=$1 label=$2 prog=$3 mode=$4; shift 4
  runnable "$prog" || { add_row "$key" "$label" "" "" "" "$(unrunnable "$prog")"; return; }
  local times=() t0 t1 rc bad dst cmd
  for _ in $(seq "$runs"); do
    ncopies=$((ncopies + 1))
    dst=$work/copies/$ncopies
    if [ "$mode" = tree ]; then cmd=("$@" "$src_tree" "$dst"); else mkdir -p "$dst"; cmd=("$@" "${srcs[@]}" "$dst"); fi
    sync
    warm_sources "$mode"
    t0=$(date +%s%N)
    timeout 900 "${cmd[@]}" > "$work/out" 2>&1
    rc=$?
    t1=$(date +%s%N)
    if [ $rc -ne 0 ]; then
      add_row "$key" "$label" "" "" "" "FAILED: exit $rc: $(head -1 "$work/out" | cut -c1-100)"; return
    fi
    bad=$(check_copy "$mode" "$dst")
    [ -z "$bad" ] || { add_row "$key" "$label" "" "" "" "FAILED: $bad"; return; }
    [ -n "$keep_copies" ] || rm -rf "$dst"
    times+=($(( (t1 - t0) / 1000 )))
  done
  local us
  us=$(median_line "${times[@]}")
  add_row "$key" "$label" "$(awk -v w="$case_work" -v t="$us" 'BEGIN {printf "%.6g", w / t}' | round)" "" "" ok
}
# copy_rows <case> <mode>: naivecp, urcp (both backends), cp, io_uring-cp on the case's sources.
copy_rows() {
  local r=() c=$1
  [ "$2" = tree ] && r=(-r)
  copy_row "$c:naive" "naive Lean (naivecp)" naivecp "$2" env LEAN_IO_BACKEND=posix "$work/bin/naivecp" "${r[@]}"
  copy_row "$c:urcp-uring" "urcp -j $threads, uring" urcp "$2" env LEAN_IO_BACKEND=uring "$work/bin/urcp" "${r[@]}" -j "$threads"
  copy_row "$c:urcp-posix" "urcp -j $threads, posix" urcp "$2" env LEAN_IO_BACKEND=posix "$work/bin/urcp" "${r[@]}" -j "$threads"
  [ "$2" = tree ] || copy_row "$c:cp" "cp" cp files cp
  if [ "$2" = tree ] || [ "${#srcs[@]}" -gt 1 ]; then copy_row "$c:cp-r" "cp -r" cp tree cp -r; fi
  local iu="io_uring-cp"
  [ "$2" = files ] && [ "${#srcs[@]}" -le 1 ] || iu+=" (xargs -P $threads)"
  copy_row "$c:io_uring-cp" "$iu" io_uring_cp "$2" "$work/bin/iucp" "${r[@]}"
}
# random_files <dir> <count> <bytes each>
random_files() {
  mkdir -p "$1"
  head -c $(($2 * $3)) /dev/urandom | split -b "$3" -a 5 -d - "$1/f"
}

note "writing the sources in $work"
mkdir -p "$work/src"
random_files "$work/src" 1 $((big_mib * 1048576))
# case_work: what a copy does, per microsecond of the throughput's unit (bytes for MB/s).
srcs=("$work/src"/f*); src_tree=$work/src; case_work=$((big_mib * 1048576)); keep_copies=
new_case cp-big MB/s "cp: one $big_mib MiB file"
copy_rows cp-big files
rm -rf "$work/src"

random_files "$work/src" "$files" $((file_mib * 1048576))
srcs=("$work/src"/f*); case_work=$((files * file_mib * 1048576))
new_case cp-files MB/s "cp: $files files of $file_mib MiB"
copy_rows cp-files files
rm -rf "$work/src"

for d in $(seq 0 $((tree_dirs - 1))); do
  random_files "$work/src/d$d" $((tree_files / tree_dirs + (d < tree_files % tree_dirs))) $((tree_kib * 1024))
done
srcs=(); case_work=$((tree_files * 1000000)); keep_copies=1
new_case cp-tree files/s "cp: a tree of $tree_files files of $tree_kib KiB in $tree_dirs directories"
copy_rows cp-tree tree
rm -rf "$work/src"

## Servers.  Each run starts "command... PORT" on a fresh port (no wait for TIME_WAIT), waits
## until it is ready, loads it, checks that it survived, and stops it.
# Below the ephemeral range: a port some client connection holds (wrk's and the load's, or the
# previous run's in TIME_WAIT) cannot be listened on, SO_REUSEADDR or not.
low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
port=$((10000 + $$ % ((low > 12000 ? low - 12000 : 1000))))
# start_server <line|port> <command...>: ready once it prints its "listening on" line, or (the
# peers, which print nothing) once the port accepts a connection; 1 if it dies or takes 10 s.
start_server() {
  local ready=$1; shift
  port=$((port + 1))
  "$@" "$port" > "$work/server.out" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    kill -0 "$server" 2> /dev/null || { wait "$server"; server=; return 1; }
    if [ "$ready" = line ]; then
      grep -q "listening on" "$work/server.out" && return 0
    elif (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      return 0
    fi
    sleep 0.1
  done
  stop_server; return 1
}
stop_server() {
  kill "$server" 2> /dev/null
  for _ in $(seq 50); do kill -0 "$server" 2> /dev/null || break; sleep 0.1; done
  ! kill -0 "$server" 2> /dev/null || kill -KILL "$server"
  wait "$server" 2> /dev/null
  server=
}
server_said() { tail -1 "$work/server.out" | cut -c1-100; }
# load_echo <conns>: "req/s p50 p99" of one echo_load run on $port, or 1 and the reason.
load_echo() {
  timeout $((secs + 90)) "$work/bin/echo_load" -p "$port" -c "$1" -t 2 -d "$secs" -s "$echo_size" \
    2> "$work/load.err" | cut -d' ' -f1-3
  [ "${PIPESTATUS[0]}" -eq 0 ] || { head -1 "$work/load.err"; return 1; }
}
# load_http <conns>: "req/s p50 p99" of one wrk run on $port after a checked GET, or 1 and why.
load_http() {
  local url=http://127.0.0.1:$port/ code
  code=$(curl -s --max-time 5 -o "$work/body" -w '%{http_code}' "$url")
  [ "$code" = 200 ] || { echo "GET / answered ${code:-nothing}"; return 1; }
  cmp -s "$work/body" "$work/body.expected" || { echo "GET / returned another body"; return 1; }
  # wrk's own 2 s timeout would fail the naive server's row at 512 connections: its last
  # connections wait seconds for their accept, which its p99 should show, as echo_load's does.
  timeout $((secs + 90)) wrk -t $(($1 < 2 ? $1 : 2)) -c "$1" -d "${secs}s" --timeout 60s --latency "$url" \
    > "$work/wrk.out" 2>&1 || { echo "wrk: $(tail -1 "$work/wrk.out")"; return 1; }
  awk 'function us(v) { return v ~ /us$/ ? v + 0 : v ~ /ms$/ ? v * 1e3 : v ~ /m$/ ? v * 6e7 : v * 1e6 }
       /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec:/ { rps = $2 }
       /Socket errors:|Non-2xx/ { sub(/^ +/, ""); bad = bad $0 "; " }
       END { if (bad != "" || rps == "") { print "wrk: " (bad != "" ? bad : "no figures"); exit 1 }
             printf "%.0f %.1f %.1f\n", rps, p50, p99 }' "$work/wrk.out"
}
# serve_row <key> <competitor> <program> <echo|http> <conns> <line|port> <command...>
serve_row() {
  local key=$1 label=$2 prog=$3 kind=$4 c=$5 ready=$6; shift 6
  local needs=("$prog" echo_load)
  [ "$kind" = echo ] || needs=("$prog" wrk curl)
  for need in "${needs[@]}"; do
    runnable "$need" || { add_row "$key" "$label" "" "" "" "$(unrunnable "$need")"; return; }
  done
  local lines=() line
  for _ in $(seq "$runs"); do
    start_server "$ready" "$@" || { add_row "$key" "$label" "" "" "" "FAILED: does not start: $(server_said)"; return; }
    if ! line=$(load_"$kind" "$c"); then
      kill -0 "$server" 2> /dev/null || line="the server died: $(server_said)"
      stop_server; add_row "$key" "$label" "" "" "" "FAILED: $line"; return
    fi
    kill -0 "$server" 2> /dev/null || { add_row "$key" "$label" "" "" "" "FAILED: the server died: $(server_said)"; server=; return; }
    stop_server
    lines+=("$line")
  done
  read -r rps p50 p99 <<< "$(median_line "${lines[@]}")"
  add_row "$key" "$label" "$rps" "$p50" "$p99" ok
}

# server_cases <demo> <title> <peer key> <peer label> <peer kind> <peer command...>: one case per
# connection count: the naive threaded baseline, the demo on fibers under both backends, a peer.
server_cases() {
  local demo=$1 title=$2 pkey=$3 plabel=$4 pkind=$5; shift 5
  local c s b
  for c in $conns; do
    s=$([ "$c" = 1 ] || echo s)
    new_case "$demo-c$c" "req/s" "$(printf "$title" "$c" "$s")"
    serve_row "$demo-c$c:naive" "naive threaded Lean" "$demo" "$demo" "$c" line \
      env LEAN_IO_BACKEND=posix "$work/bin/$demo" --blocking
    for b in uring posix; do
      serve_row "$demo-c$c:$demo-$b" "$demo --threads $threads, $b" "$demo" "$demo" "$c" line \
        env LEAN_IO_BACKEND=$b "$work/bin/$demo" --threads "$threads"
    done
    # the server before receivers (a recv submitted per read), to measure them
    serve_row "$demo-c$c:$demo-plain" "$demo --plain-recv, uring" "$demo" "$demo" "$c" line \
      env LEAN_IO_BACKEND=uring "$work/bin/$demo" --threads "$threads" --plain-recv
    serve_row "$demo-c$c:$pkey" "$plabel" "$pkind" "$demo" "$c" port "$@"
  done
}
server_cases echo "TCP echo, %s connection%s, $echo_size-byte round trips" \
  liburing "liburing echo-server (1 thread)" uring_echo "$uring_echo"
server_cases http "HTTP GET / under wrk, %s connection%s, keep-alive" \
  nginx "nginx, $threads workers" nginx "$work/bin/nginx-serve"

## The report.
# ratio <key a> <key b>: throughput of a over b, or nothing if either has none.
ratio() {
  [ -n "${TPUT[$1]:-}" ] && [ -n "${TPUT[$2]:-}" ] || return 0
  awk -v a="${TPUT[$1]}" -v b="${TPUT[$2]}" 'BEGIN {printf "%.2f", a / b}'
}
dash() { echo "${1:--}"; }
# target <what> <key a> <key b> <>=|<=> <bound>: the verdict on ratio a/b.
met=0 missed=0 unmeasured=0
target() {
  local r what
  r=$(ratio "$2" "$3")
  what=$(printf '%-12s %s' "${ROWCASE[$2]:-${2%%:*}}" "$1")
  if [ -z "$r" ]; then
    unmeasured=$((unmeasured + 1))
    printf '%-60s not measured: %s\n' "$what" "$([ -n "${TPUT[$2]:-}" ] && echo "${RESULT[$3]:-no row}" || echo "${RESULT[$2]:-no row}")"
  elif awk -v r="$r" -v b="$5" -v op="$4" 'BEGIN {exit !(op == ">=" ? r >= b : r <= b)}'; then
    met=$((met + 1)); printf '%-60s met     %5sx (target %s %sx)\n' "$what" "$r" "$4" "$5"
  else
    missed=$((missed + 1)); printf '%-60s MISSED  %5sx (target %s %sx)\n' "$what" "$r" "$4" "$5"
  fi
}
report() {
  echo "lean-uring bench/run.sh, $when"
  echo "machine: $machine, load $load_avg at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
  echo "bench dir: $bench_fs; sources read into the page cache before each copy"
  echo "runs: median of $runs; loads of $secs s; servers --threads $threads, nginx $threads workers, urcp -j $threads"
  echo "peers: $(cp --version | head -1); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2);" \
    "io_uring-cp: ${io_uring_cp:-not given}; echo-server: ${uring_echo:-not given}"
  echo
  printf '%-12s %-34s %12s %10s %10s %8s  %s\n' case competitor throughput "p50 us" "p99 us" "vs ref" result
  local k c r prev=
  for k in "${keys[@]}"; do
    c=${ROWCASE[$k]}
    if [ "$c" != "$prev" ]; then echo "-- ${TITLE[$c]} (reference: ${COMP[${REF[$c]}]})"; prev=$c; fi
    r=$(ratio "$k" "${REF[$c]}")
    printf '%-12s %-34s %12s %10s %10s %8s  %s\n' "$c" "${COMP[$k]}" \
      "$([ -n "${TPUT[$k]}" ] && echo "${TPUT[$k]} ${UNIT[$c]}" || echo -)" \
      "$(dash "${P50[$k]}")" "$(dash "${P99[$k]}")" "$([ -n "$r" ] && echo "${r}x" || echo -)" "${RESULT[$k]}"
  done
  echo
  echo "targets (ratios of throughput in this run):"
  target "urcp (uring) / naive Lean" cp-tree:urcp-uring cp-tree:naive ">=" 3
  target "urcp (uring) / cp -r" cp-tree:urcp-uring cp-tree:cp-r ">=" 1.3
  target "urcp (uring) / cp" cp-big:urcp-uring cp-big:cp ">=" 1
  target "urcp (uring) / cp" cp-files:urcp-uring cp-files:cp ">=" 1
  target "io_uring-cp / urcp (uring)" cp-big:io_uring-cp cp-big:urcp-uring "<=" 1
  local big=${conns##* }
  target "http (uring) / naive threaded Lean" "http-c$big:http-uring" "http-c$big:naive" ">=" 3
  target "nginx / http (uring)" "http-c$big:nginx" "http-c$big:http-uring" "<=" 1.5
  target "liburing echo-server / echo (uring)" "echo-c$big:liburing" "echo-c$big:echo-uring" "<=" 1.25
  target "echo (uring) / echo --plain-recv (uring)" "echo-c$big:echo-uring" "echo-c$big:echo-plain" ">=" 1.2
  echo "targets: $met met, $missed missed, $unmeasured not measured"
}
# The rows as tab-separated blocks, one per case, each opened by a "# case" line for the plot.
write_dat() {
  echo "# lean-uring bench/run.sh, $when"
  echo "# machine: $machine; bench dir: $bench_fs"
  printf '# columns: %s\n' "case competitor throughput unit p50_us p99_us ratio_to_reference result (tab separated, - when missing)"
  local i=0 c k
  for c in "${cases[@]}"; do
    i=$((i + 1))
    [ $i -eq 1 ] || printf '\n\n'
    printf '# case\t%s\t%s\t%s\n' "$i" "${UNIT[$c]}" "${TITLE[$c]}"
    for k in "${keys[@]}"; do
      [ "${ROWCASE[$k]}" = "$c" ] || continue
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "${COMP[$k]}" "$(dash "${TPUT[$k]}")" "${UNIT[$c]}" \
        "$(dash "${P50[$k]}")" "$(dash "${P99[$k]}")" "$(dash "$(ratio "$k" "${REF[$c]}")")" "${RESULT[$k]}"
    done
  done
}

out=$results/run-$stamp
report | tee "$out.txt"
write_dat > "$out.dat"
if runnable gnuplot; then
  gnuplot -e "dat='$out.dat'; png='$out.png'" "$ROOT/bench/plot.gp" 2> "$work/gnuplot.err" ||
    { note "gnuplot failed:"; cat "$work/gnuplot.err" >&2; failed=1; }
else
  note "no plot: ${broken[gnuplot]}"; failed=1
fi
note "wrote $out.txt, .dat, .png"
[ "$failed" -eq 0 ] || note "some rows FAILED"
exit "$failed"
