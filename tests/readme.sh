#!/usr/bin/env bash
# The README's quick start, run as written: every ```sh block preceded by the line
# <!-- quick-start --> runs as one bash script (set -e) in a scratch directory, against the
# built toolchain, so the README cannot drift from the scripts.  (The README's Lean examples are
# compiled and run by tests/lean/run-backends.sh.)
#   - `scripts/...` at the start of a command is this repository's;
#   - `~/.cache/lean-uring` is $LEAN_URING_CACHE when that is set;
#   - a command ending in `# → text` must print exactly that text;
#   - `scripts/test.sh` is the command running this test: it is checked to exist, not run.
# The toolchain must be built already (the quick start's build is then a no-op check).
#
#   tests/readme.sh <stage1-dir>
set -uo pipefail

stage1=${1:?usage: readme.sh <stage1-dir>}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LEAN_URING_CACHE:-$HOME/.cache/lean-uring}
[ -x "$stage1/bin/lean" ] || { echo "readme: no toolchain at $stage1 (build it first)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/readme-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# One script per block: block_<n>.sh, each starting with the helper that checks an output.
awk -v dir="$tmp" '
  /^<!-- quick-start -->$/ { marked = 1; next }
  marked && /^```sh$/ { n++; f = dir "/block_" n ".sh"; marked = 0; next }
  { marked = 0 }
  /^```$/ { f = "" }
  f { print > f }' "$ROOT/README.md"
ls "$tmp"/block_*.sh > /dev/null 2>&1 || { echo "readme: no quick-start block in README.md"; exit 1; }

# expect <text> <command>: run the command (a line of the README) and compare what it prints.
expect() {
  local got
  got=$(eval "$2") || { echo "README: \`$2\` failed"; return 1; }
  [ "$got" = "$1" ] || { echo "README: \`$2\` printed \`$got\`, the README says \`$1\`"; return 1; }
}

passed=0
failed=0
for block in "$tmp"/block_*.sh; do
  name=$(basename "$block" .sh)
  script=$tmp/$name.run
  {
    echo "set -e"
    declare -f expect
    while IFS= read -r line; do
      line=${line//\~\/.cache\/lean-uring/$CACHE}
      [[ $line == scripts/* ]] && line=$ROOT/$line
      if [[ $line == "$ROOT/scripts/test.sh" || $line == "$ROOT/scripts/test.sh "* ]]; then
        echo "[ -x $ROOT/scripts/test.sh ]"
      elif [[ $line =~ ^(.*[^[:space:]])[[:space:]]+#\ →\ (.*)$ ]]; then
        printf 'expect %q %q\n' "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}"
      else
        echo "$line"
      fi
    done < "$block"
  } > "$script"
  mkdir "$tmp/$name.dir"
  started=$SECONDS
  if (cd "$tmp/$name.dir" && bash "$script") > "$tmp/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "PASS  README quick start, $name ($((SECONDS - started)) s): $(head -n 1 "$block")"
  else
    failed=$((failed + 1))
    echo "FAIL  README quick start, $name: $(head -n 1 "$block")"
    tail -n 30 "$tmp/$name.log"
  fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
