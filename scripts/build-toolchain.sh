#!/usr/bin/env bash
# Set up and build the lean-uring toolchain: the Debian packages (scripts/install-deps.sh),
# upstream lean4 at the pinned commit, plus patches/ and our overlay (src/runtime/uring,
# src/Init/IO, tests/lean/run), into a cached, incremental build outside the clone; then
# lean-uring-info, the elan link and a smoke run of the result.
#
#   scripts/build-toolchain.sh                 set up, build (or bring up to date) stage1
#   scripts/build-toolchain.sh --find-source   print the upstream checkout it would use: exit 0,
#                                              2 when it is at the wrong commit, 1 when none
#
# Where the upstream checkout comes from, first match wins:
#   $LEAN4_SRC; $LEAN_URING_CACHE/lean4 (default ~/.cache/lean-uring/lean4); a clone into that
#   cache location of $LEAN4_MIRROR (a path or URL of any lean4 repository that has the pinned
#   commit), else of https://github.com/leanprover/lean4.
# The checkout is only read (git archive of the pinned commit), never modified.
# JOBS sets make's parallelism (default: nproc).
set -euo pipefail

PIN=7e317d23db1cf8196253aa84d196c444f6355b70
UPSTREAM_URL=https://github.com/leanprover/lean4
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LEAN_URING_CACHE:-$HOME/.cache/lean-uring}
JOBS=${JOBS:-$(nproc)}
# Free space a build needs, in MiB, measured after a first build from an empty home: build 746,
# work 103 (and its staging copy, 103 more while it is assembled), ccache 41, and the clone
# 566, counted apart; an incremental build writes little. Each has a margin of about a third.
NEED_FIRST_MIB=1400
NEED_INCREMENTAL_MIB=300
NEED_CLONE_MIB=800

say() { echo "build-toolchain: $*"; }
die() { echo "build-toolchain: $*" >&2; exit 1; }

# find_source: set src to the checkout to use; fail when there is none.
find_source() {
  if [ -n "${LEAN4_SRC:-}" ]; then
    [ -d "$LEAN4_SRC" ] || die "LEAN4_SRC=$LEAN4_SRC is not a directory"
    src=$LEAN4_SRC
  elif [ -d "$CACHE/lean4/.git" ]; then
    src=$CACHE/lean4
  else
    return 1
  fi
}

check_pin() {
  local src=$1 head
  head=$(git -C "$src" rev-parse --verify -q 'HEAD^{commit}') \
    || die "$src is not a git checkout of lean4 (need commit $PIN)"
  [ "$head" = "$PIN" ] && return 0
  if git -C "$src" cat-file -e "$PIN^{commit}" 2>/dev/null; then
    die "$src is at commit $head, but lean-uring is pinned to $PIN.
Check it out there (git -C $src checkout $PIN) or point LEAN4_SRC at a checkout of it."
  fi
  die "$src is at commit $head, and lacks the pinned commit $PIN.
Fetch it (git -C $src fetch $UPSTREAM_URL && git -C $src checkout $PIN)
or point LEAN4_SRC at a checkout of it."
}

# The build takes the committed tree of the pin, so edits in the checkout would be silently
# left out: say so, once, rather than refuse (an untracked build directory is harmless).
warn_dirty() {
  local src=$1 changed
  changed=$(git -C "$src" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | head -n 6)
  [ -z "$changed" ] && return 0
  say >&2 "warning: $src has uncommitted changes; the build ignores them (it uses the
committed tree of $PIN; changes to upstream belong in $ROOT/patches/):
$changed"
}

# --find-source: exit 1 when there is no checkout (tier 2 is skipped), and fail like the build
# does when there is one at the wrong commit.
if [ "${1:-}" = "--find-source" ]; then
  find_source || { echo "none at \$LEAN4_SRC or $CACHE/lean4" >&2; exit 1; }
  (check_pin "$src") || exit 2
  echo "$src"
  exit 0
fi
[ $# -eq 0 ] || die "unknown argument: $1 (usage: build-toolchain.sh [--find-source])"

started=$SECONDS
elapsed() { printf '%d:%02d' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

"$ROOT/scripts/install-deps.sh" || die "the packages above are needed first"

# free_mib <path>: free space of the filesystem that holds <path> (or would hold it).
free_mib() {
  local p=$1
  until [ -e "$p" ]; do p=$(dirname "$p"); done
  df -Pm "$p" | awk 'NR == 2 { print $4 }'
}

# check_disk <MiB> <what>: refuse before starting what would fail for want of space.
check_disk() {
  local need=$1 free
  free=$(free_mib "$CACHE")
  [ "$free" -ge "$need" ] || die "$2 needs about $need MiB free on the filesystem of $CACHE,
which has $free MiB. Free some space, or set LEAN_URING_CACHE to a directory on a larger one."
}

clone_source() {
  local from=${LEAN4_MIRROR:-$UPSTREAM_URL} partial=$CACHE/lean4.partial quiet=-q
  [ -t 2 ] && quiet=--progress
  check_disk "$NEED_CLONE_MIB" "cloning lean4"
  say "no upstream checkout found; cloning $from into $CACHE/lean4"
  mkdir -p "$CACHE"
  rm -rf "$partial"
  # Cloned aside and renamed once checked out, so an interrupted clone is never taken for a
  # checkout by the next run.
  if ! git clone "$quiet" --no-checkout "$from" "$partial" || ! git -C "$partial" checkout -q "$PIN"; then
    rm -rf "$partial"
    die "cannot get lean4 $PIN from $from (offline, or a repository without that commit?).
Get it from any lean4 repository that has the commit, a local mirror for instance:
  LEAN4_MIRROR=/path/to/lean4.git scripts/build-toolchain.sh
or by hand:
  git clone /path/to/lean4.git $CACHE/lean4
  git -C $CACHE/lean4 checkout $PIN
or point LEAN4_SRC at a checkout of that commit."
  fi
  mv "$partial" "$CACHE/lean4"
}

if ! find_source; then
  clone_source
  src=$CACHE/lean4
fi
check_pin "$src"
warn_dirty "$src"

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  say "waiting for another build of $CACHE to finish"
  flock 9
fi

build=$CACHE/build
stage1=$build/stage1
info_file=$stage1/lib/lean-uring/build-info
if [ -x "$stage1/bin/lean" ]; then
  check_disk "$NEED_INCREMENTAL_MIB" "an incremental build"
else
  check_disk "$NEED_FIRST_MIB" "a first build"
fi

# What this overlay is: its commit, and a hash of every file the build takes from it (the
# cache records the hash of the overlay it was last built from).
overlay_files() {
  (cd "$ROOT" && find patches src/runtime/uring src/Init/IO tests/lean/run -type f | LC_ALL=C sort)
}
overlay_tree=$(cd "$ROOT" && overlay_files | xargs -d '\n' sha1sum | sha1sum | cut -c1-12)
overlay_commit=$(git -C "$ROOT" describe --always --dirty=+dirty 2>/dev/null || echo unknown)

# Assemble the patched tree in a scratch directory, then copy only files whose content changed
# into the build's source tree: unchanged files keep their mtimes, so the build stays
# incremental (a runtime change rebuilds the runtime and relinks, not the stdlib).
stage=$CACHE/stage
work=$CACHE/work
rm -rf "$stage"
mkdir -p "$stage" "$work"
git -C "$src" archive "$PIN" | tar -x -C "$stage"
for p in "$ROOT"/patches/*.patch; do
  [ -e "$p" ] || continue
  patch -p1 -d "$stage" --forward --batch --no-backup-if-mismatch -s < "$p" \
    || die "patch $(basename "$p") does not apply to lean4 $PIN"
done
cp -r "$ROOT/src/runtime/uring" "$stage/src/runtime/"
[ -d "$ROOT/src/Init/IO" ] && cp -r "$ROOT/src/Init/IO" "$stage/src/Init/"
cp "$ROOT"/tests/lean/run/* "$stage/tests/lean/run/" 2>/dev/null || true
changes=$(rsync -rlc --delete --itemize-changes "$stage/" "$work/")
rm -rf "$stage"

# A module the overlay no longer has would keep its .olean in stage1 and stay importable, and
# its object in the package's archive (make sees nothing newer): remove them.
while read -r change path; do
  [[ $change == '*deleting' && $path == src/*.lean ]] || continue
  mod=${path#src/}
  rm -f "$stage1/lib/lean/${mod%.lean}.olean" "$stage1/lib/temp/${mod%.lean}".* \
    "$stage1/lib/lean/lib${mod%%/*}.a"
done <<< "$changes"

if [ -f "$info_file" ]; then
  built_tree=$(sed -n 's/^overlay tree: //p' "$info_file")
  built_commit=$(sed -n 's/^overlay: //p' "$info_file")
  if [ "$built_tree" != "$overlay_tree" ]; then
    say "the cache was built from overlay $built_commit (tree $built_tree); this is" \
      "$overlay_commit (tree $overlay_tree): rebuilding what changed"
  fi
elif [ -d "$stage1" ]; then
  say "the cache in $build has no record of the overlay it was built from (an older" \
    "build-toolchain.sh made it): bringing it up to date, rebuilding only what changed"
fi

# progress <log> <stdlib files>: report the build's state from its log until killed; one line
# updated in place on a terminal, else a line per stage and per 10%.
progress() {
  local log=$1 total=$2 status label pct key tty='' last=''
  [ -t 1 ] && tty=1
  while :; do
    # stage: the last stage whose step began; within it make's percentage, and in the stdlib
    # phase (lean.mk's "[    ] Building" lines: one per .lean, one per .c) the files done.
    status=$(awk -v total="$total" '
      /Performing (configure|build) step for .stage[0-9]/ {
        stage = $0; sub(/.*for ./, "", stage); sub(/.$/, "", stage); pct = 0; files = 0; next }
      /stage[0-9].$/ { next }
      /^\[ *[0-9]+%\]/ { p = $0; sub(/^\[ */, "", p); pct = p + 0 }
      /^\[    \] Building / { files++ }
      END {
        if (stage == "") print "configuring 0"
        else if (stage == "stage0") print "stage0_(bootstrap_compiler,_C) " pct
        else if (files == 0) print stage "_(runtime,_C++) " pct
        else print stage "_(standard_library,_Lean) " int(100 * (files < total ? files : total) / total)
      }' "$log" 2>/dev/null || true)
    read -r label pct <<< "$status"
    label=${label//_/ }
    key="$label $((pct / 10))"
    [ "$label" = configuring ] || label="$label $(printf '%3d%%' "$pct")"
    if [ -n "$tty" ]; then
      printf '\r\033[Kbuild-toolchain: %s  %s' "$label" "$(elapsed)"
    elif [ "$key" != "$last" ]; then
      say "$label ($(elapsed))"
      last=$key
    fi
    sleep 1
  done
}

# run_logged <log> <stdlib files> <command...>: run the command with its output in <log> and
# the progress on the terminal; on failure show the end of the log.
run_logged() {
  local log=$1 total=$2 code=0 mon
  shift 2
  : > "$log"
  progress "$log" "$total" &
  mon=$!
  "$@" > "$log" 2>&1 || code=$?
  kill "$mon"
  wait "$mon" 2>/dev/null || true
  [ -t 1 ] && printf '\r\033[K'
  [ $code -eq 0 ] && return 0
  # With parallel jobs the log ends in make's unwinding: the first errors come first.
  if grep -q ': error' "$log"; then
    echo "---- the first errors in $log:" >&2
    grep -m 5 ': error' "$log" >&2
  fi
  echo "---- the last 30 lines of $log:" >&2
  tail -n 30 "$log" >&2
  die "build failed after $(elapsed); full log: $log"
}

if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configuring $build"
  cmake -S "$work" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ > "$CACHE/configure.log" 2>&1 || {
    tail -n 30 "$CACHE/configure.log" >&2
    die "cmake failed, full log: $CACHE/configure.log"
  }
fi
stdlib_files=$(( 2 * $(cd "$work/src" && find Init Std Lean Leanpkg Init.lean Std.lean Lean.lean \
  Leanpkg.lean -name '*.lean' | wc -l) ))
if [ -x "$stage1/bin/lean" ]; then
  say "bringing $build up to date"
else
  say "building stage0 and stage1 with $JOBS jobs (a first build takes 12 to 40 minutes)"
fi
run_logged "$CACHE/make.log" "$stdlib_files" make -C "$build" -j"$JOBS"

# The record keeps its date while the overlay stays the same: "built" is when this overlay was.
record="upstream: lean4 $PIN (2021-07-19)
overlay: $overlay_commit
overlay tree: $overlay_tree"
if [ "$(head -n 3 "$info_file" 2>/dev/null)" != "$record" ]; then
  mkdir -p "${info_file%/*}"
  printf '%s\nbuilt: %s\n' "$record" "$(date -u '+%Y-%m-%d %H:%M UTC')" > "$info_file"
fi

# lean-uring-info, rebuilt when its source or the toolchain beneath it is newer.
info_bin=$stage1/bin/lean-uring-info
info_src=$ROOT/scripts/lean-uring-info.lean
stale=
[ -x "$info_bin" ] || stale=1
for f in "$info_src" "$stage1/bin/lean" "$stage1"/lib/lean/*.a; do
  if [ "$f" -nt "$info_bin" ]; then stale=1; fi
done
if [ -n "$stale" ]; then
  tmp=$(mktemp -d)
  # (the pinned lean compiles only files under its working directory)
  if ! (cd "${info_src%/*}" && "$stage1/bin/lean" -c "$tmp/info.c" "${info_src##*/}" &&
        "$stage1/bin/leanc" -O3 -o "$info_bin" "$tmp/info.c") > "$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    die "cannot build lean-uring-info"
  fi
  rm -rf "$tmp"
fi

if command -v elan > /dev/null; then
  if elan toolchain link lean-uring "$stage1" > /dev/null 2>&1; then
    linked="   # done: \`lean +lean-uring\` runs it"
  else
    linked="   # failed here: run it by hand"
  fi
else
  linked="   # elan is not installed: run this once it is"
fi

echo
say "toolchain ready in $stage1 ($(elapsed))"
echo "  elan toolchain link lean-uring $stage1$linked"
echo "Run a program on each backend:"
echo "  LEAN_IO_BACKEND=uring lean +lean-uring --run prog.lean   # io_uring, or a loud failure"
echo "  LEAN_IO_BACKEND=posix lean +lean-uring --run prog.lean   # upstream's POSIX path"
echo "  (unset or auto: io_uring when it works here, else POSIX: lean-uring-info says which)"
echo "Smoke run ($info_bin --smoke):"
timeout 10 "$info_bin" --smoke 2>&1 | sed 's/^/  /' || die "the smoke run of the built toolchain failed"
