#!/usr/bin/env bash
# The copy demos' test (examples/urcp.lean and examples/naivecp.lean).  It builds a tree (nested
# and empty directories, files of 0 B to 20 MiB, modes 0600/0755/4755, a read-only directory,
# relative, absolute and dangling symbolic links, a link to a directory) and copies it with
# `urcp -r` under LEAN_IO_BACKEND=uring and =posix, with -j 1 and -j 2 (under umask 077 and
# under a limit of 32 open files), and with naivecp -r.
# Contents are compared with `diff -r`; urcp's copies must also match the source in type, mode
# and link target for every entry (`find -printf '%P %y %m %l'`).  Then the errors (exit code
# and message lines) and the progress line (present on a pseudo-terminal, absent otherwise).
#
#   tests/demos/urcp.sh STAGE1_DIR      (prints PASS/FAIL lines; exit 1 on any failure)
#
# URCP_LEAN=<file> tests another urcp source than examples/urcp.lean (a deliberately broken
# copy, to see a check fail).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stage1=${1:?usage: tests/demos/urcp.sh STAGE1_DIR}
urcp_lean=${URCP_LEAN:-$ROOT/examples/urcp.lean}
demo=urcp
. "$ROOT/tests/demos/lib.sh"

build "$urcp_lean" urcp && build "$ROOT/examples/naivecp.lean" naivecp ||
  { echo "FAIL: building urcp and naivecp"; exit 1; }
urcp=$work/urcp naivecp=$work/naivecp

# The tree.
src=$work/src
mkdir -p "$src/a/b/c" "$src/empty" "$src/many" "$src/ro"
: > "$src/empty-file"
printf x > "$src/one"
head -c 4096 /dev/urandom > "$src/a/4k"
head -c $((1048576 + 1)) /dev/urandom > "$src/a/b/1m+1"
head -c $((20 * 1048576)) /dev/urandom > "$src/a/b/c/20m"
for i in $(seq 200); do head -c $((i * 37)) /dev/urandom > "$src/many/f$i"; done
printf 'secret\n' > "$src/m600" && chmod 600 "$src/m600"
printf '#!/bin/sh\n' > "$src/m755" && chmod 755 "$src/m755"
printf 'setuid\n' > "$src/m4755" && chmod 4755 "$src/m4755"
printf 'inside a read-only directory\n' > "$src/ro/file"
chmod 555 "$src/ro"
ln -s a/4k "$src/rel"
ln -s /etc/hostname "$src/abs"
ln -s does/not/exist "$src/dangling"
ln -s a/b "$src/dirlink"

manifest() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %l\n' | LC_ALL=C sort); }
manifest "$src" > "$work/src.manifest"

# run <name> <expected exit> <command...>: the command under a timeout, stderr in $work/err.
run() {
  local name=$1 want=$2; shift 2
  timeout 120 "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  if [ "$rc" != "$want" ]; then
    fail "$name: exit $rc, expected $want; stderr: $(head -c 600 "$work/err")"
    return 1
  fi
}

# same_tree <name> <copy>: contents, types, modes and link targets equal to the source's.
same_tree() {
  if diff -r --no-dereference "$src" "$2" > "$work/diff" 2>&1; then pass "$1: contents (diff -r)"
  else fail "$1: contents differ: $(head -c 600 "$work/diff")"; fi
  if manifest "$2" | diff "$work/src.manifest" - > "$work/diff"; then
    pass "$1: types, modes and link targets"
  else fail "$1: types, modes or link targets differ: $(head -c 600 "$work/diff")"; fi
}

fresh() { chmod -R u+rwx "$1" 2>/dev/null; rm -rf "$1"; }

for backend in uring posix; do
  # -j 2 runs under umask 077, which would strip the group and other bits of every mode.
  for j in 1 2; do
    name="urcp -r -j $j ($backend)"
    dst=$work/copy-$backend-$j
    [ "$j" = 1 ] || { umask 077; name="$name, umask 077"; }
    if LEAN_IO_BACKEND=$backend run "$name" 0 "$urcp" -r -j "$j" "$src" "$dst"; then
      if [ -s "$work/err" ]; then fail "$name: stderr not empty: $(head -c 300 "$work/err")"; fi
      same_tree "$name" "$dst"
    fi
    umask 022
    fresh "$dst"
  done
  # Into an existing directory: the copy goes inside it, under the source's name.
  name="urcp -r SRC EXISTING-DIR ($backend)"
  mkdir "$work/into"
  LEAN_IO_BACKEND=$backend run "$name" 0 "$urcp" -r --depth 3 "$src/" "$work/into" &&
    same_tree "$name" "$work/into/src"
  fresh "$work/into"
  # One file to a new name, and several files into a directory.
  name="urcp FILE NEWNAME, urcp FILE... DIR ($backend)"
  mkdir "$work/files"
  if LEAN_IO_BACKEND=$backend run "$name" 0 "$urcp" "$src/a/b/c/20m" "$work/files/renamed" &&
     LEAN_IO_BACKEND=$backend run "$name" 0 "$urcp" "$src/one" "$src/m4755" "$src/rel" "$work/files"
  then
    if cmp -s "$src/a/b/c/20m" "$work/files/renamed" && cmp -s "$src/one" "$work/files/one" &&
       [ "$(stat -c %a "$work/files/m4755")" = 4755 ] && [ ! -L "$work/files/rel" ] &&
       cmp -s "$src/a/4k" "$work/files/rel"; then
      pass "$name: contents, mode, a link named without -r followed"
    else fail "$name: wrong copies: $(ls -l "$work/files")"; fi
  fi
  fresh "$work/files"
  # 2 threads of 64 lanes would hold 256 descriptors; under a limit of 32 (or 4 threads under
  # 14) the lanes that find none wait for the others (cp copies under any limit), with no error
  # line.  Lanes that all retried after a fixed pause failed together again under posix, whose
  # operations run in step: 1 run in 24 lost files at 32, 17 in 20 at 14.
  for lim in 32:2 14:4; do
    fds=${lim%:*} threads=${lim#*:}
    name="urcp -r -j $threads under ulimit -n $fds ($backend)"
    if LEAN_IO_BACKEND=$backend run "$name" 0 bash -c 'ulimit -n "$1" && shift && exec "$@"' - \
         "$fds" "$urcp" -r -j "$threads" "$src" "$work/lowfd"; then
      if [ -s "$work/err" ]; then fail "$name: stderr not empty: $(head -c 300 "$work/err")"; fi
      same_tree "$name" "$work/lowfd"
    fi
    fresh "$work/lowfd"
  done
  name="urcp --copy-file-range -r ($backend)"
  LEAN_IO_BACKEND=$backend run "$name" 0 "$urcp" -r --copy-file-range "$src" "$work/cfr" &&
    same_tree "$name" "$work/cfr"
  fresh "$work/cfr"
done

# naivecp: contents of the regular files only; it follows links, so the dangling one fails.
name="naivecp -r"
if run "$name" 1 "$naivecp" -r "$src" "$work/naive"; then
  bad=$(cd "$src" && find . -type f | while read -r f; do cmp -s "$f" "$work/naive/$f" || echo "$f"; done)
  if [ -z "$bad" ]; then pass "$name: every regular file's contents"
  else fail "$name: files differ: $bad"; fi
  if [ "$(grep -c '^naivecp: ' "$work/err")" = 1 ] && grep -q "^naivecp: $src/dangling: " "$work/err"; then
    pass "$name: the dangling link is its only error"
  else fail "$name: unexpected errors: $(head -c 600 "$work/err")"; fi
fi
fresh "$work/naive"

# expect_error <name> <stderr line pattern (grep -E)> <command...>: exit 1 and that line.
expect_error() {
  local name=$1 pattern=$2; shift 2
  for backend in uring posix; do
    if LEAN_IO_BACKEND=$backend run "$name ($backend)" 1 "$@"; then
      if grep -qE "$pattern" "$work/err"; then pass "$name ($backend)"
      else fail "$name ($backend): no line matching '$pattern' in: $(head -c 600 "$work/err")"; fi
    fi
  done
}

mkdir "$work/out-dir"
expect_error "usage" '^usage: urcp' "$urcp" "$src"
expect_error "a missing source" "^urcp: $work/missing: no such file or directory" \
  "$urcp" "$work/missing" "$work/out-dir"
expect_error "several sources, DST not a directory" "^urcp: target '$src/one' is not a directory" \
  "$urcp" "$src/m600" "$src/m755" "$src/one"
expect_error "DST inside SRC" "^urcp: cannot copy a directory, '$src', into itself, '$src/a/inner'" \
  "$urcp" -r "$src" "$src/a/inner"
[ -e "$src/a/inner" ] && fail "DST inside SRC: $src/a/inner was made"
expect_error "a directory without -r, the other sources copied" \
  "^urcp: -r not specified; omitting directory '$src/a'" "$urcp" "$src/a" "$src/one" "$work/out-dir"
[ -f "$work/out-dir/one" ] || fail "a directory without -r: the other source was not copied"
expect_error "a directory over a file" "^urcp: cannot overwrite non-directory '$work/out-dir/one' with directory '$src/a'" \
  "$urcp" -r "$src/a" "$work/out-dir/one"
expect_error "a file onto itself" "^urcp: '$src/one' and '$src/one' are the same file" \
  "$urcp" "$src/one" "$src/one"
[ "$(cat "$src/one")" = x ] || fail "a file onto itself: the file was changed"

# A fifo is skipped with a message; the rest of its tree is copied.
mkdir -p "$work/special" && mkfifo "$work/special/fifo" && printf ok > "$work/special/ok"
expect_error "a fifo" "^urcp: $work/special/fifo: not a regular file, directory or symbolic link; skipped" \
  "$urcp" -r "$work/special" "$work/special-copy"
[ "$(cat "$work/special-copy/ok" 2>/dev/null)" = ok ] || fail "a fifo: the other file was not copied"

# An unreadable file and an unreadable directory (as another user when we are root, who can
# read anything): each reported, the rest copied.
mkdir -p "$work/locked/closed" && printf ok > "$work/locked/ok" && printf no > "$work/locked/secret"
printf no > "$work/locked/closed/x"
chmod 000 "$work/locked/secret" "$work/locked/closed"
as=()
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$work" && chown -R nobody "$work/locked" "$work/out-dir"
  as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
expect_error "an unreadable file" "^urcp: $work/locked/secret: permission denied" \
  "${as[@]}" "$urcp" -r "$work/locked" "$work/out-dir"
grep -qE "^urcp: $work/locked/closed: permission denied" "$work/err" ||
  fail "an unreadable directory: not reported: $(head -c 600 "$work/err")"
[ "$(cat "$work/out-dir/locked/ok" 2>/dev/null)" = ok ] ||
  fail "an unreadable file: the other file was not copied"

# The progress line: drawn with \r on a terminal, absent when stderr is a file.
pty_run=$ROOT/tests/lean/tools/pty-run.py
for backend in uring posix; do
  LEAN_IO_BACKEND=$backend python3 "$pty_run" pipe "" "$urcp" -r "$src" "$work/p1" > "$work/pty"
  if grep -qa $'\rurcp: .* files, ' "$work/pty"; then pass "progress line on a terminal ($backend)"
  else fail "progress line on a terminal ($backend): not seen in: $(head -c 300 "$work/pty" | od -c)"; fi
  fresh "$work/p1"
  LEAN_IO_BACKEND=$backend python3 "$pty_run" pipe "" "$urcp" --no-progress -r "$src" "$work/p1" > "$work/pty"
  if grep -qa 'urcp' "$work/pty"; then
    fail "--no-progress on a terminal ($backend): printed $(head -c 300 "$work/pty" | od -c)"
  else pass "--no-progress on a terminal ($backend)"; fi
  fresh "$work/p1"
  LEAN_IO_BACKEND=$backend "$urcp" -r "$src" "$work/p1" 2> "$work/err"
  if [ -s "$work/err" ]; then fail "no progress line into a file ($backend): $(head -c 300 "$work/err")"
  else pass "no progress line into a file ($backend)"; fi
  fresh "$work/p1"
  LEAN_IO_BACKEND=$backend "$urcp" --progress -r "$src" "$work/p1" 2> "$work/err"
  if grep -q "urcp: .* files, " "$work/err"; then pass "--progress into a file ($backend)"
  else fail "--progress into a file ($backend): $(head -c 300 "$work/err")"; fi
  fresh "$work/p1"
done

finish
