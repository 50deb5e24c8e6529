#!/usr/bin/env bash
# Check the Lean spec: compile every module in dependency order, replay the sample traces with
# the executable twins, and list each theorem with the axioms it rests on.
#   spec/check.sh <lean-bin-dir>
# The core library is taken from <lean-bin-dir>/../lib/lean, or from $LEAN_STDLIB (a directory
# holding Init/Prelude.olean) when the toolchain's own .olean files are elsewhere.
set -euo pipefail

bindir=$(cd "${1:?usage: spec/check.sh <lean-bin-dir>}" && pwd)
lean="$bindir/lean"
[ -x "$lean" ] || { echo "no lean at $lean"; exit 1; }
spec=$(cd "$(dirname "$0")" && pwd)
stdlib=$(cd "${LEAN_STDLIB:-$bindir/../lib/lean}" && pwd)
[ -f "$stdlib/Init/Prelude.olean" ] || { echo "no Init/Prelude.olean under $stdlib (set LEAN_STDLIB)"; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/lean-uring-spec.XXXXXX")
trap 'rm -rf "$out"' EXIT
export LEAN_PATH="$stdlib:$out"

read -ra modules <<< "$(grep -v '^#' "$spec/modules" | tr '\n' ' ')"

# No escape hatches anywhere under spec/: no sorry, no admit, no axiom declarations.
if grep -rnwE --include='*.lean' 'sorry|admit|axiom' "$spec"; then
  echo "FAIL: sorry/admit/axiom in spec sources"; exit 1
fi

cd "$spec"
# Every Lean file under spec/ is checked: a file left out of the list is an error.
for f in $(find . -path ./mutants -prune -o -name '*.lean' -print | sed 's|^\./||; s|\.lean$||' | sort); do
  case " ${modules[*]} " in *" $f "*) ;; *) echo "FAIL: $f.lean is not in spec/modules"; exit 1 ;; esac
done

for m in "${modules[@]}"; do
  mkdir -p "$out/$(dirname "$m")"
  log=$("$lean" -o "$out/$m.olean" "$m.lean" 2>&1) || { echo "$log"; echo "FAIL: $m.lean"; exit 1; }
  if [ -n "$log" ]; then echo "$log"; echo "FAIL: $m.lean produced messages"; exit 1; fi
  echo "ok   $m.lean"
done

# Every theorem must depend on no axiom beyond Lean's standard three (and never on sorryAx).
# (Only modules with theorems are imported: the twins' programs each define a `main`.)
{
  for m in "${modules[@]}"; do
    grep -qE '^(protected )?theorem ' "$m.lean" && echo "import ${m//\//.}"
  done
  for m in "${modules[@]}"; do
    sed -n 's/^\(protected \)\?theorem \([^ ]*\) *[({:[].*/\2/p' "$m.lean" | while read -r t; do
      echo "#print axioms Ring.$t"
    done
  done
} > "$out/Axioms.lean"
axioms=$("$lean" "$out/Axioms.lean" 2>&1) || { echo "$axioms"; echo "FAIL: the axiom listing"; exit 1; }
if echo "$axioms" | grep -vE "does not depend on any axioms|depends on axioms: \[(propext|Quot.sound|Classical.choice)(, (propext|Quot.sound|Classical.choice))*\]$"; then
  echo "FAIL: unexpected axioms (above)"; exit 1
fi
echo "theorems checked ($(echo "$axioms" | wc -l)):"
echo "$axioms" | sed "s/^'\([^']*\)'.*/  \1/"

# The executable twins accept the valid sample traces and reject the invalid ones: the ring's
# (Conformance) those in traces/, the scheduler's (SchedConformance) those in traces/sched/.
for t in traces/*.trace traces/sched/*.trace; do
  case $t in traces/sched/*) twin=SchedConformance.lean ;; *) twin=Conformance.lean ;; esac
  set +e; res=$("$lean" --run "$twin" "$t"); rc=$?; set -e
  case "$(basename "$t")" in
    valid-*)   want=0 ;;
    invalid-*) want=1 ;;
    *) echo "FAIL: trace $t is neither valid-* nor invalid-*"; exit 1 ;;
  esac
  [ "$rc" = "$want" ] || { echo "FAIL: $t: exit $rc, wanted $want: $res"; exit 1; }
  echo "ok   $t: $res"
done
echo "spec check passed"
