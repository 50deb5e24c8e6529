/-
SchedConformance: replay scheduler traces (spec/trace-format.md, "Scheduler trace format")
with the twin `Sched.step?`.  Usage: sched-conformance <trace-file>
A file holds one block per scheduler, each opened by a `sched` line; every block is replayed
from the model's initial state, and must end with nothing parked and no cancel half done.
Prints "accepted B schedulers, N steps" and exits 0, or prints the first rejected line and
exits 1.  The loop is `Sched.replay`, the proved one (`Sched.replay_reach`).
-/
import Sched.Replay

open Ring Ring.Sched

def words (line : String) : List String :=
  (line.trim.splitOn " ").filter fun w => !w.isEmpty

def nat? (w : String) : Option Nat := w.toNat?

def nats : List String → Option (List Nat)
  | [] => some []
  | w :: ws => match nat? w, nats ws with
    | some n, some ns => some (n :: ns)
    | _, _ => none

def bit? (w : String) : Option Bool :=
  if w = "1" then some true else if w = "0" then some false else none

def outcome? : String → Option Outcome
  | "drop" => some Outcome.drop
  | "more" => some Outcome.more
  | "resume" => some Outcome.resume
  | _ => none

def parse (line : String) : Option Ev :=
  match words line with
  | ["park", i, g, c, r, p] =>
    match nat? i, nat? g, nat? c, bit? r, nat? p with
    | some i, some g, some c, some r, some p => some (Ev.park i g c r p)
    | _, _, _, _, _ => none
  | ["cqe", g, i, f, w] =>
    match nat? g, nat? i, bit? f, outcome? w with
    | some g, some i, some f, some w => some (Ev.cqe g i f w)
    | _, _, _, _ => none
  -- a submission that raised: its waiter leaves as at a final completion
  | ["raise", i, g] =>
    match nat? i, nat? g with
    | some i, some g => some (Ev.cqe g i false Outcome.resume)
    | _, _ => none
  | ["cancel", i] => (nat? i).map Ev.cancel
  | "fail" :: c :: ds =>
    match nat? c, nats ds with
    | some c, some ds => some (Ev.fail c ds)
    | _, _ => none
  | ["wake", i] => (nat? i).map Ev.wake
  | ["done"] => some Ev.done
  | ["deadlock", i] => (nat? i).map Ev.deadlock
  | ["resolve", p] => (nat? p).map Ev.resolve
  | ["pwake", i, p] =>
    match nat? i, nat? p with
    | some i, some p => some (Ev.pwake i p)
    | _, _ => none
  | ["signal", i] => (nat? i).map Ev.signal
  | ["ready", p] => (nat? p).map Ev.ready
  | ["end", c] => (nat? c).map Ev.endRun
  | _ => none

/-- Nothing parked and no cancel half done: a scheduler may end here. -/
def quiet (t : T) : Bool :=
  t.owed.isNone && allBelow (fun j => (t.st.slots j).waiter.isNone) t.hi

/-- Parse a block's numbered lines (reversed in `acc`), or the first bad one. -/
def parseAll (acc : List Ev) : List (Nat × String) → Except (Nat × String) (List Ev)
  | [] => Except.ok acc.reverse
  | (n, l) :: rest =>
    match parse l with
    | some e => parseAll (e :: acc) rest
    | none => Except.error (n, l)

/-- Split numbered lines into the blocks each `sched` line opens (`cur` is the open block,
reversed, and `done` the blocks before it, reversed). -/
def blocks (cur : Option (List (Nat × String))) (done : List (List (Nat × String))) :
    List (Nat × String) → List (List (Nat × String))
  | [] => match cur with
    | some b => (b.reverse :: done).reverse
    | none => done.reverse
  | (n, l) :: rest =>
    if l.trim = "sched" then
      blocks (some []) (match cur with | some b => b.reverse :: done | none => done) rest
    else blocks ((cur.getD []).cons (n, l)) done rest

/-- The non-empty lines, numbered from 1, in order. -/
def numbered (acc : List (Nat × String)) : Nat → List String → List (Nat × String)
  | _, [] => acc.reverse
  | n, l :: rest => numbered (if l.trim.isEmpty then acc else (n, l) :: acc) (n + 1) rest

/-- Replay every block: the steps replayed, or why the first bad block is rejected. -/
def check : List (List (Nat × String)) → Except String Nat
  | [] => Except.ok 0
  | b :: bs =>
    match parseAll [] b with
    | Except.error (n, l) => Except.error s!"line {n} does not parse: {l}"
    | Except.ok es =>
      match replay T.init 0 es with
      | Except.error k =>
        let (n, l) := b.getD k (0, "")
        Except.error s!"at line {n}: {l}"
      | Except.ok t =>
        if !quiet t then
          Except.error s!"the scheduler ending at line {(b.getLastD (0, "")).1} left a waiter parked or a cancel half done"
        else (check bs).map (· + es.length)

def main (args : List String) : IO UInt32 := do
  let text ← match args with
    | [path] => IO.FS.readFile path
    | _ => throw (IO.userError "usage: sched-conformance <trace-file>")
  let lines := numbered [] 1 (text.splitOn "\n")
  let bs := blocks none [] lines
  let first := match lines with
    | (_, l) :: _ => l.trim
    | [] => ""
  if first != "sched" then
    IO.println "rejected: a trace starts with a `sched` line"
    return 1
  match check bs with
  | Except.ok steps =>
    IO.println s!"accepted {bs.length} schedulers, {steps} steps"
    return 0
  | Except.error why =>
    IO.println s!"rejected {why}"
    return 1
