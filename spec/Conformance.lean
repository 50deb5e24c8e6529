/-
Conformance: replay a ring trace (spec/trace-format.md) with the executable twin `step?`.
Usage: conformance [trace-file]   (stdin without an argument)
Prints "accepted N steps" and exits 0, or prints the first rejected line and exits 1.
The loop is `replayParsed` (Ring.Exec), the proved one: an accepted trace is a path of the
model (`replayParsed_reach`), and every value it reports was checked (`step?_reports`).
-/
import Ring.Replay
import Ring.Report
import Ring.U32

open Ring

def parseInt (w : String) : Option Int :=
  if w.startsWith "-" then (w.drop 1).toNat?.map fun n => -(Int.ofNat n)
  else w.toNat?.map Int.ofNat

def words (line : String) : List String :=
  (line.trim.splitOn " ").filter fun w => !w.isEmpty

/-- A trace's first line fixes the capacities and the u32 value the indices start at. -/
structure Header where
  sqCap : Nat
  cqCap : Nat
  start : Nat

def isPow2 (n : Nat) : Bool := n > 0 && (Nat.land n (n - 1)) == 0

def parseHeader (line : String) : Option Header :=
  match words line with
  | ["ring", a, b, c] =>
    match a.toNat?, b.toNat?, c.toNat? with
    | some a, some b, some c =>
      -- kernel limits: IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES
      if isPow2 a && isPow2 b && a ≤ 32768 && b ≤ 65536 && c < u32Size then some ⟨a, b, c⟩
      else none
    | _, _, _ => none
  | _ => none

/-- A u32 index from the trace, as the model's `Nat`, relative to the observer's copy `ref`
(`trace_index` in Ring.U32 is why this recovers the index the C code meant). -/
def idx (hd : Header) (ref : Nat) (w : String) : Option Nat :=
  match w.toNat? with
  | some x => if x < u32Size then unwrap ref (subU32 x hd.start) else none
  | none => none

def with1 (a : Option Nat) (f : Nat → Action) : Option Action :=
  match a with
  | some x => some (f x)
  | none => none

def with2 (a b : Option Nat) (f : Nat → Nat → Action) : Option Action :=
  match a, b with
  | some x, some y => some (f x y)
  | _, _ => none

/-- A posted CQE: index, user_data, result and flags (0 when the trace leaves them out). -/
def parsePost (hd : Header) (s : St) (j id res flags : String) : Option Action :=
  match parseInt res, flags.toNat? with
  | some r, some f => with2 (idx hd s.cqeTail j) id.toNat? fun j id => Action.kPost j id r f
  | _, _ => none

def parseOverflow (id res flags : String) : Option Action :=
  match parseInt res, flags.toNat? with
  | some r, some f => with1 id.toNat? fun id => Action.kOverflow id r f
  | _, _ => none

def parseAction (hd : Header) (s : St) (line : String) : Option Action :=
  match words line with
  | ["uGetSqe", i, id] => with2 (idx hd s.sqeTail i) id.toNat? Action.uGetSqe
  | ["uLoadHead", h] => with1 (idx hd s.headSeen h) Action.uLoadHead
  | ["uPublish", t] => with1 (idx hd s.sqeTail t) Action.uPublish
  | ["kLoadTail", t] => with1 (idx hd s.kTailSeen t) Action.kLoadTail
  | ["kGetSqe", i, id] => with2 (idx hd s.kHead i) id.toNat? Action.kGetSqe
  | ["kCommitSq", h] => with1 (idx hd s.kHead h) Action.kCommitSq
  | ["kLoadCqHead", h] => with1 (idx hd s.cqHeadSeen h) Action.kLoadCqHead
  | ["kPost", j, id, res] => parsePost hd s j id res "0"
  | ["kPost", j, id, res, flags] => parsePost hd s j id res flags
  | ["kOverflow", id, res] => parseOverflow id res "0"
  | ["kOverflow", id, res, flags] => parseOverflow id res flags
  | ["kFlush", j] => with1 (idx hd s.cqeTail j) Action.kFlush
  | ["kCommitCq", t] => with1 (idx hd s.cqeTail t) Action.kCommitCq
  | ["uLoadCqTail", t] => with1 (idx hd s.uCqTailSeen t) Action.uLoadCqTail
  | ["uReap", j, id] => with2 (idx hd s.uCqHead j) id.toNat? Action.uReap
  | ["uCqAdvance", h] => with1 (idx hd s.uCqHead h) Action.uCqAdvance
  | _ => none

partial def readLines (h : IO.FS.Stream) (acc : Array String) : IO (Array String) := do
  let line ← h.getLine
  if line.isEmpty then pure acc else readLines h (acc.push line)

def isBlank (line : String) : Bool := line.trim.isEmpty || line.trim.startsWith "#"

def reject (n : Nat) (line : String) (why : String) : IO UInt32 := do
  IO.println s!"rejected line {n}: {line.trim} ({why})"
  pure 1

/-- The trace's lines that say something, with their line numbers. -/
def numbered (lines : Array String) : List (Nat × String) :=
  (lines.foldl (fun (acc : Nat × Array (Nat × String)) line =>
    (acc.1 + 1, if isBlank line then acc.2 else acc.2.push (acc.1 + 1, line))) (0, #[])).2.toList

def run (lines : Array String) : IO UInt32 :=
  match numbered lines with
  | [] => do IO.println "rejected: empty trace"; pure 1
  | (n, line) :: rest =>
    match parseHeader line with
    | none => reject n line "bad header"
    | some h =>
      match replayParsed (fun s (l : Nat × String) => parseAction h s l.2) (init h.sqCap h.cqCap) rest with
      | Sum.inr _ => do IO.println s!"accepted {rest.length} steps"; pure 0
      | Sum.inl ((n, line), false) => reject n line "malformed or index out of range"
      | Sum.inl ((n, line), true) => reject n line "not a step of the model"

def main (args : List String) : IO UInt32 := do
  let h ← match args with
    | [path] => do pure (IO.FS.Stream.ofHandle (← IO.FS.Handle.mk path IO.FS.Mode.read))
    | _ => IO.getStdin
  run (← readLines h #[])
