#!/usr/bin/env bash
# Plant each protocol bug of spec/mutants/ in a copy of the spec and show that it is caught
# twice: some proof of the spec no longer checks, and the mutant's counterexample (a reachable
# state, or an accepted step, that violates a content property) checks against the mutated
# model and is refuted by the real one.  The counterexample is what shows a content property
# broken, not merely a proof script.
#   spec/mutants.sh <lean-bin-dir>
# Each spec/mutants/<name>.lean opens with its mutation:
#   -- mutant: <module file>    -- from: <text>    -- to: <text>    -- plants: <what>
# (`\n` in from/to is a newline; `from` must occur exactly once).
set -euo pipefail

bindir=$(cd "${1:?usage: spec/mutants.sh <lean-bin-dir>}" && pwd)
lean="$bindir/lean"
spec=$(cd "$(dirname "$0")" && pwd)
stdlib=$(cd "${LEAN_STDLIB:-$bindir/../lib/lean}" && pwd)

# The ring modules in dependency order (the scheduler model is separate, Conformance a tool).
read -ra modules <<< "$(grep -v '^#' "$spec/modules" | tr ' ' '\n' | grep '^Ring/' | tr '\n' ' ')"

work=$(mktemp -d "${TMPDIR:-/tmp}/lean-uring-mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT

header() { sed -n "s/^-- $2: //p" "$1" | head -n1; }

# The declaration around line $2 of file $1: the nearest `theorem`/`def` at or above it.
decl_at() {
  awk -v n="$2" 'NR <= n && /^(protected )?(theorem|def|structure|inductive) / { d = $2 } END { print d }' "$1"
}

compile_all() { # <tree> <olean dir>: compile the ring modules of a tree, stop at the first failure
  local mod log line
  for mod in "${modules[@]}"; do
    mkdir -p "$2/$(dirname "$mod")"
    if ! log=$(cd "$1" && LEAN_PATH="$stdlib:$2" "$lean" -o "$2/$mod.olean" "$mod.lean" 2>&1); then
      line=$(echo "$log" | grep -m1 -oE '^[^:]+:[0-9]+:[0-9]+: error' | cut -d: -f2)
      echo "$mod.lean: $(decl_at "$1/$mod.lean" "${line:-1}")"
      return
    fi
  done
}

mkdir -p "$work/pristine/.olean"
cp -r "$spec/Ring" "$work/pristine/"
[ -z "$(compile_all "$work/pristine" "$work/pristine/.olean")" ] || { echo "FAIL: the unmutated spec does not check"; exit 1; }

printf '%-30s %-34s %-14s %s\n' mutant "first proof broken" "counterexample" "real model"
caught=0 missed=0
for m in "$spec"/mutants/*.lean; do
  name=$(basename "$m" .lean)
  file=$(header "$m" mutant); from=$(header "$m" from); to=$(header "$m" to)
  tree="$work/$name"; out="$tree/.olean"
  rm -rf "$tree"; mkdir -p "$out"
  cp -r "$spec/Ring" "$tree/"
  python3 - "$tree/$file" "$from" "$to" <<'EOF' || { echo "FAIL: $name: mutation does not apply"; exit 1; }
import sys
path, frm, to = sys.argv[1], sys.argv[2].replace('\\n', '\n'), sys.argv[3].replace('\\n', '\n')
src = open(path).read()
if src.count(frm) != 1:
    sys.exit(1)
open(path, 'w').write(src.replace(frm, to))
EOF
  broken=$(compile_all "$tree" "$out")
  cex="no"
  if (cd "$tree" && LEAN_PATH="$stdlib:$out" timeout 300 "$lean" "$m" >/dev/null 2>&1); then cex="checks"; fi
  real="refutes"
  if (cd "$work/pristine" && LEAN_PATH="$stdlib:$work/pristine/.olean" timeout 300 "$lean" "$m" >/dev/null 2>&1); then real="ACCEPTS"; fi
  printf '%-30s %-34s %-14s %s\n' "$name" "${broken:-NONE}" "$cex" "$real"
  if [ -n "$broken" ] && [ "$cex" = checks ] && [ "$real" = refutes ]; then caught=$((caught + 1)); else missed=$((missed + 1)); fi
done
echo "mutants: $caught caught, $missed missed"
[ "$missed" = 0 ]
