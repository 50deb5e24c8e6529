#!/usr/bin/env bash
# Build the lean-uring toolchain: upstream lean4 at the pinned commit, plus patches/ and our
# overlay (src/runtime/uring, src/Init/IO, tests/lean/run), into a cached, incremental build
# outside the clone.
#
#   scripts/build-toolchain.sh                 build (or bring up to date) stage1
#   scripts/build-toolchain.sh --find-source   print the upstream checkout it would use, or fail
#
# Where the upstream checkout comes from, first match wins:
#   $LEAN4_SRC; $LEAN_URING_CACHE/lean4 (default ~/.cache/lean-uring/lean4); a clone of
#   https://github.com/leanprover/lean4 into that cache location when the network allows it.
# The checkout is only read (git archive of the pinned commit), never modified.
set -euo pipefail

PIN=7e317d23db1cf8196253aa84d196c444f6355b70
UPSTREAM_URL=https://github.com/leanprover/lean4
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LEAN_URING_CACHE:-$HOME/.cache/lean-uring}
JOBS=${JOBS:-$(nproc)}

die() { echo "build-toolchain: $*" >&2; exit 1; }

find_source() {
  if [ -n "${LEAN4_SRC:-}" ]; then
    [ -d "$LEAN4_SRC" ] || die "LEAN4_SRC=$LEAN4_SRC is not a directory"
    echo "$LEAN4_SRC"
  elif [ -d "$CACHE/lean4/.git" ]; then
    echo "$CACHE/lean4"
  else
    return 1
  fi
}

check_pin() {
  local src=$1 head
  head=$(git -C "$src" rev-parse --verify -q 'HEAD^{commit}') \
    || die "$src is not a git checkout of lean4 (need commit $PIN)"
  [ "$head" = "$PIN" ] || die "$src is at commit $head, but lean-uring is pinned to $PIN.
Check it out there (git -C $src checkout $PIN) or point LEAN4_SRC at a checkout of it."
}

# --find-source: exit 1 when there is no checkout (tier 2 is skipped), and fail like the build
# does when there is one at the wrong commit.
if [ "${1:-}" = "--find-source" ]; then
  src=$(find_source) || { echo "none at \$LEAN4_SRC or $CACHE/lean4" >&2; exit 1; }
  (check_pin "$src") || exit 2
  echo "$src"
  exit 0
fi

if ! src=$(find_source); then
  echo "build-toolchain: no upstream checkout found; cloning $UPSTREAM_URL into $CACHE/lean4"
  mkdir -p "$CACHE"
  git clone -q "$UPSTREAM_URL" "$CACHE/lean4" \
    || die "cannot clone $UPSTREAM_URL (offline?). Set LEAN4_SRC to a lean4 checkout at $PIN."
  git -C "$CACHE/lean4" checkout -q "$PIN"
  src=$CACHE/lean4
fi
check_pin "$src"

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9

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
rsync -rlc --delete "$stage/" "$work/"
rm -rf "$stage"

build=$CACHE/build
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$work" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ > "$CACHE/configure.log" \
    || die "cmake failed, see $CACHE/configure.log"
fi
make -C "$build" -j"$JOBS" > "$CACHE/make.log" 2>&1 || {
  tail -n 40 "$CACHE/make.log" >&2
  die "build failed, full log: $CACHE/make.log"
}

echo "lean-uring toolchain: $build/stage1"
echo "To use it with elan:"
echo "  elan toolchain link lean-uring $build/stage1"
