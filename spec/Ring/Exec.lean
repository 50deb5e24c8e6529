/-
Ring.Exec: the executable twin of `Step`.  `step?` decides one action, `replayParsed` replays a
trace as the conformance checker reads it.  Their proofs are in Ring.Replay (soundness) and
Ring.Report (each reported value checked).
-/
import Ring.L2

namespace Ring

/-- One trace line, with indices already unwrapped to the model's `Nat`s. -/
inductive Action
  | uGetSqe (i id : Nat)
  | uLoadHead (h : Nat)
  | uPublish (t : Nat)
  | kLoadTail (t : Nat)
  | kGetSqe (i id : Nat)
  | kCommitSq (h : Nat)
  | kLoadCqHead (h : Nat)
  | kPost (j id : Nat) (res : Int) (flags : Nat)
  | kOverflow (id : Nat) (res : Int) (flags : Nat)
  | kFlush (j : Nat)
  | kCommitCq (t : Nat)
  | uLoadCqTail (t : Nat)
  | uReap (j id : Nat)
  | uCqAdvance (h : Nat)
  deriving DecidableEq, Repr

/-- The trace carries only user_data for an SQE; the other fields do not affect the protocol. -/
def Sqe.ofUserData (id : Nat) : Sqe := ⟨Op.nop, 0, 0, 0, 0, id⟩

/-- A CQE as a trace gives it: user_data, result and flags (`IORING_CQE_F_MORE` is the one the
model reads). -/
def Cqe.ofResult (id : Nat) (res : Int) (flags : Nat) : Cqe := ⟨id, res, flags⟩

def consumeSq (s : St) (e : Sqe) (id : Nat) : Option St :=
  if e.userData = id then
    some { s with kHead := s.kHead + 1, inflight := s.inflight ++ [e.userData],
                  consumed := s.consumed ++ [e] }
  else none

def reapCq (s : St) (c : Cqe) (id : Nat) : Option St :=
  if c.userData = id then
    some { s with uCqHead := s.uCqHead + 1, reaped := s.reaped ++ [c] }
  else none

def post (s : St) (c : Cqe) : St :=
  { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),
           cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,
           postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,
           inflight := retire s.inflight c, produced := s.produced ++ [c] }

def flush (s : St) (c : Cqe) (cs : List Cqe) : St :=
  { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),
           cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,
           postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1, overflow := cs }

def overflowCq (s : St) (c : Cqe) : St :=
  { s with overflow := s.overflow ++ [c],
           inflight := retire s.inflight c, produced := s.produced ++ [c] }

def postIfRoom (s : St) (c : Cqe) : List Cqe → Option St
  | [] => if s.cqeTail < s.cqHeadSeen + s.cqCap then some (post s c) else none
  | _ :: _ => none

def overflowIfDue (s : St) (c : Cqe) : List Cqe → Option St
  | [] => if s.cqHeadSeen + s.cqCap ≤ s.cqeTail then some (overflowCq s c) else none
  | _ :: _ => some (overflowCq s c)

def flushIfRoom (s : St) : List Cqe → Option St
  | [] => none
  | c :: cs => if s.cqeTail < s.cqHeadSeen + s.cqCap then some (flush s c cs) else none

def step? (s : St) : Action → Option St
  | Action.uGetSqe i id =>
    if i = s.sqeTail ∧ s.sqeTail < s.headSeen + s.cap then
      some { s with sqes := upd s.sqes (slot s.cap s.sqeTail) (some (Sqe.ofUserData id)),
                    sqPub := upd s.sqPub (slot s.cap s.sqeTail) false,
                    subAt := upd s.subAt s.sqeTail (Sqe.ofUserData id), sqeTail := s.sqeTail + 1 }
    else none
  | Action.uLoadHead h =>
    if s.headSeen ≤ h ∧ h ≤ s.sqHead then some { s with headSeen := h } else none
  | Action.uPublish t => if t = s.sqeTail then some { s with sqTail := s.sqeTail, sqPub := allPub } else none
  | Action.kLoadTail t =>
    if s.kTailSeen ≤ t ∧ t ≤ s.sqTail then some { s with kTailSeen := t } else none
  | Action.kGetSqe i id =>
    if i = s.kHead ∧ s.kHead < s.kTailSeen then
      match s.sqes (slot s.cap s.kHead) with
      | some e => consumeSq s e id
      | none => none
    else none
  | Action.kCommitSq h => if h = s.kHead then some { s with sqHead := s.kHead } else none
  | Action.kLoadCqHead h =>
    if s.cqHeadSeen ≤ h ∧ h ≤ s.cqHead then some { s with cqHeadSeen := h } else none
  | Action.kPost j id res flags =>
    if j = s.cqeTail ∧ s.inflight.elem id = true then
      postIfRoom s (Cqe.ofResult id res flags) s.overflow
    else none
  | Action.kOverflow id res flags =>
    if s.inflight.elem id = true then overflowIfDue s (Cqe.ofResult id res flags) s.overflow else none
  | Action.kFlush j => if j = s.cqeTail then flushIfRoom s s.overflow else none
  | Action.kCommitCq t => if t = s.cqeTail then some { s with cqTail := s.cqeTail, cqPub := allPub } else none
  | Action.uLoadCqTail t =>
    if s.uCqTailSeen ≤ t ∧ t ≤ s.cqTail then some { s with uCqTailSeen := t } else none
  | Action.uReap j id =>
    if j = s.uCqHead ∧ s.uCqHead < s.uCqTailSeen then
      match s.cqes (slot s.cqCap s.uCqHead) with
      | some c => reapCq s c id
      | none => none
    else none
  | Action.uCqAdvance h => if h = s.uCqHead then some { s with cqHead := s.uCqHead } else none

/-- Replay a whole trace from a state; `Sum.inl (k, s)` = the k-th action (0-based) was rejected. -/
def replay : St → List Action → Nat → Sum (Nat × St) St
  | s, [], _ => Sum.inr s
  | s, a :: as, k =>
    match step? s a with
    | some s' => replay s' as (k + 1)
    | none => Sum.inl (k, s)

/-- Forget the ghost histories.  `step?` never reads them, so the conformance checker replays
from stripped states: keeping them would make a replay quadratic in the trace length. -/
def strip (s : St) : St := { s with consumed := [], produced := [], reaped := [] }

/-- `replay` as the conformance checker runs it: strip after every step. -/
def replayFast : St → List Action → Nat → Sum (Nat × St) St
  | s, [], _ => Sum.inr s
  | s, a :: as, k =>
    match step? s a with
    | some s' => replayFast (strip s') as (k + 1)
    | none => Sum.inl (k, s)

/-- The conformance checker's loop: each line becomes an action in the current state (a trace
gives u32 indices, unwrapped against the state), and is replayed as `replayFast` does.  A
rejection returns the line, and whether it parsed (`true`: not a step of the model). -/
def replayParsed {β : Type} (parse : St → β → Option Action) : St → List β → Sum (β × Bool) St
  | s, [] => Sum.inr s
  | s, x :: xs =>
    match parse s x with
    | none => Sum.inl (x, false)
    | some a =>
      match step? s a with
      | some s' => replayParsed parse (strip s') xs
      | none => Sum.inl (x, true)

end Ring
