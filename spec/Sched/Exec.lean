/-
Sched.Exec: an executable twin of the scheduler model, for the traces the real scheduler
writes (`LEAN_FIBER_TRACE`; the format is in spec/trace-format.md, "Scheduler trace format").

A twin state `T` stands for a model state (`T.st`, its fields kept as `Tree`s where they are
read), with a bound `hi` at and past which every slot is empty, so that the model's guards over
all slots are finite checks here, and, inside one `Sched.cancel`, the continuations still owed
a cancel.  `step?` turns each trace line into zero, one or two
model steps, and checks every value the line reports: a parked slot's generation, what
`dispatch` did with a completion, that a cancel's victims are exactly the waiters the model's
`fail` cancels.  Sched.Replay proves that whatever it accepts is a path of the model.
-/
import Sched.Tree

namespace Ring
namespace Sched

/-- What the real `dispatch` did with a completion. -/
inductive Outcome where
  | drop
  | more
  | resume

instance : DecidableEq Outcome := fun a b =>
  match a, b with
  | Outcome.drop, Outcome.drop => isTrue rfl
  | Outcome.more, Outcome.more => isTrue rfl
  | Outcome.resume, Outcome.resume => isTrue rfl
  | Outcome.drop, Outcome.more => isFalse fun h => Outcome.noConfusion h
  | Outcome.drop, Outcome.resume => isFalse fun h => Outcome.noConfusion h
  | Outcome.more, Outcome.drop => isFalse fun h => Outcome.noConfusion h
  | Outcome.more, Outcome.resume => isFalse fun h => Outcome.noConfusion h
  | Outcome.resume, Outcome.drop => isFalse fun h => Outcome.noConfusion h
  | Outcome.resume, Outcome.more => isFalse fun h => Outcome.noConfusion h

/-- One line of a scheduler trace (spec/trace-format.md). -/
inductive Ev where
  | park (i gen ctx : Nat) (onRing : Bool) (p : Nat)  -- `Sched.park`
  | cqe (gen i : Nat) (fmore : Bool) (what : Outcome)  -- `Sched.dispatch` (and `raise`)
  | cancel (i : Nat)                                   -- `Sched.cancelOnRing`
  | fail (c : Nat) (ds : List Nat)                     -- `Sched.cancel` of c, reaching ds
  | wake (i : Nat)                                     -- ... wakes an off-ring victim
  | done                                               -- ... ends
  | deadlock (i : Nat)                                 -- `Sched.deadlock`
  | resolve (p : Nat)                                  -- `Promise.tryResolve`
  | pwake (i p : Nat)                                  -- ... wakes a waiter of `p`
  | signal (i : Nat)                                   -- a receiver wakes its reader
  | ready (p : Nat)                                    -- `awaitIn` of a resolved promise
  | endRun (c : Nat)                                   -- `Switch.run` has joined

/-- A function as a field: `{ t with … }` turns a field of function type that it copies into a
closure over the old `t` (so every step would lengthen a chain through all earlier states);
a field of this type is copied as it is. -/
structure Fn (β : Type) where
  f : Nat → β

/-- The twin's state: the model's, with the fields that are read (or read to be updated) at
most steps kept as `Tree`s (`T.st` is the model state it stands for), the bound `hi`, and
the continuations still owed a cancel inside one `Sched.cancel`. -/
structure T where
  slots : Tree Slot
  next : Nat
  parkedIn : Fn (Option Nat)
  resumed : Tree Nat
  more : Tree Nat
  lent : Fn (Option Nat)
  cancelSent : Fn Bool
  nCancel : Fn Nat
  failed : Fn Bool
  ended : Tree Bool
  prom : Tree (Option Nat)
  nResolve : Tree Nat
  ret : Fn (Option (Nat × Nat))
  hi : Nat
  owed : Option (List Nat)

def T.st (t : T) : St where
  slots := t.slots.fn
  next := t.next
  parkedIn := t.parkedIn.f
  resumed := t.resumed.fn
  more := t.more.fn
  lent := t.lent.f
  cancelSent := t.cancelSent.f
  nCancel := t.nCancel.f
  failed := t.failed.f
  ended := t.ended.fn
  prom := t.prom.fn
  nResolve := t.nResolve.fn
  ret := t.ret.f

/-- 2^12 leaves: a lookup walks 12 nodes and a chain of about one 4096th of the updates. -/
def depth : Nat := 12

def T.init : T where
  slots := Tree.spread Ring.Sched.init.slots depth
  next := 0
  parkedIn := ⟨Ring.Sched.init.parkedIn⟩
  resumed := Tree.spread Ring.Sched.init.resumed depth
  more := Tree.spread Ring.Sched.init.more depth
  lent := ⟨Ring.Sched.init.lent⟩
  cancelSent := ⟨Ring.Sched.init.cancelSent⟩
  nCancel := ⟨Ring.Sched.init.nCancel⟩
  failed := ⟨Ring.Sched.init.failed⟩
  ended := Tree.spread Ring.Sched.init.ended depth
  prom := Tree.spread Ring.Sched.init.prom depth
  nResolve := Tree.spread Ring.Sched.init.nResolve depth
  ret := ⟨Ring.Sched.init.ret⟩
  hi := 0
  owed := none

/-! The model's operations on the twin's state (Sched.Replay: `twin_park` and the others show
each is the model's). -/

def T.park (t : T) (i : Nat) (w : Waiter) : T :=
  { t with slots := t.slots.set i { gen := (t.st.slots i).gen, waiter := some w },
           next := t.next + 1,
           parkedIn := ⟨upd t.parkedIn.f w.cont (some w.sw)⟩,
           lent := ⟨lendTo t.lent.f w.buf w.cont⟩ }

def T.finish (t : T) (i : Nat) (w : Waiter) : T :=
  { t with slots := t.slots.set i { gen := (t.st.slots i).gen + 1, waiter := none },
           resumed := t.resumed.set w.cont (t.st.resumed w.cont + 1),
           lent := ⟨release t.lent.f w.cont⟩ }

def T.finishRet (t : T) (i : Nat) (w : Waiter) (p v : Nat) : T :=
  { t.finish i w with ret := ⟨upd t.ret.f w.cont (some (p, v))⟩ }

def T.dispatch (t : T) (tag : Tag) (fmore : Bool) : T :=
  if (t.st.slots tag.idx).gen = tag.gen then
    match (t.st.slots tag.idx).waiter with
    | some w => if fmore then { t with more := t.more.set w.cont (t.st.more w.cont + 1) }
                else t.finish tag.idx w
    | none => t
  else t

def T.resolve (t : T) (p v : Nat) : T :=
  { t with prom := t.prom.set p (some v), nResolve := t.nResolve.set p (t.st.nResolve p + 1) }

/-- Every slot at or past `hi` is empty. -/
def Bound (hi : Nat) (s : St) : Prop := ∀ i, hi ≤ i → (s.slots i).waiter = none

def anyBelow (p : Nat → Bool) : Nat → Bool
  | 0 => false
  | n + 1 => if p n = true then true else anyBelow p n

def allBelow (p : Nat → Bool) : Nat → Bool
  | 0 => true
  | n + 1 => if p n = true then allBelow p n else false

/-- Slot `i` holds an on-ring waiter of switch `sw` with continuation `c`. -/
def owes (s : St) (sw c i : Nat) : Bool :=
  match (s.slots i).waiter with
  | some w => decide (w.cont = c ∧ w.sw = sw ∧ w.onRing = true)
  | none => false

/-- `toCancel`, decided below the bound. -/
abbrev toCancelB (s : St) (hi sw c : Nat) : Prop :=
  anyBelow (owes s sw c) hi = true ∧ s.cancelSent c = false

/-- The continuations `fail` of `sw` sends a cancel to, below `n`. -/
def owedBelow (s : St) (sw : Nat) : Nat → List Nat
  | 0 => []
  | n + 1 =>
    let here := match (s.slots n).waiter with
      | some w => if w.sw = sw ∧ w.onRing = true ∧ s.cancelSent w.cont = false then [w.cont] else []
      | none => []
    here ++ owedBelow s sw n

/-- Inside a `Sched.cancel`: fail the switch `sw` if it has not failed yet, and owe a cancel to
each of its waiters the model's `fail` cancels. -/
def ensureFailed (t : T) (sw : Nat) : T :=
  if t.st.failed sw = false then
    let s := t.st
    { t with failed := ⟨upd t.failed.f sw true⟩,
             cancelSent := ⟨fun c => if toCancelB s t.hi sw c then true else t.cancelSent.f c⟩,
             nCancel := ⟨fun c => if toCancelB s t.hi sw c then t.nCancel.f c + 1 else t.nCancel.f c⟩,
             owed := t.owed.map (· ++ owedBelow s sw t.hi) }
  else t

/-- `ensureFailed` of each context a `Sched.cancel` reaches. -/
def failAll (t : T) : List Nat → T
  | [] => t
  | d :: ds => failAll (ensureFailed t d) ds

def erase (c : Nat) : List Nat → Option (List Nat)
  | [] => none
  | x :: xs => if x = c then some xs else (erase c xs).map (x :: ·)

/-- What `dispatch` does with tag `(gen, i)`. -/
def outcome (s : St) (gen i : Nat) (fmore : Bool) : Outcome :=
  if (s.slots i).gen = gen then
    match (s.slots i).waiter with
    | some _ => if fmore then Outcome.more else Outcome.resume
    | none => Outcome.drop
  else Outcome.drop

/-- The kernel's guard in `Step.cqe`: a live tag names an on-ring waiter. -/
def onRingIfLive (s : St) (gen i : Nat) : Bool :=
  match (s.slots i).waiter with
  | some w => if (s.slots i).gen = gen then w.onRing else true
  | none => true

def offRing (s : St) (j : Nat) : Bool :=
  match (s.slots j).waiter with
  | some w => !w.onRing
  | none => true

def notIn (s : St) (sw j : Nat) : Bool :=
  match (s.slots j).waiter with
  | some w => decide (w.sw ≠ sw)
  | none => true

def parkHi (hi i : Nat) : Nat := if i < hi then hi else i + 1

def stepPark (t : T) (i gen ctx : Nat) (onRing : Bool) (p : Nat) : Option T :=
  let s := t.st
  if t.owed.isNone = true ∧ (s.slots i).waiter.isNone = true ∧ (s.slots i).gen = gen ∧
      s.failed ctx = false ∧ s.ended ctx = false then
    if onRing = true then
      some { t.park i { cont := s.next, sw := ctx, onRing := true, buf := none, wait := none } with
             hi := parkHi t.hi i }
    else if (s.prom p).isNone = true then
      some { t.park i { cont := s.next, sw := ctx, onRing := false, buf := none, wait := some p } with
             hi := parkHi t.hi i }
    else none
  else none

def stepCqe (t : T) (gen i : Nat) (fmore : Bool) (what : Outcome) : Option T :=
  if t.owed.isNone = true ∧ onRingIfLive t.st gen i = true ∧ what = outcome t.st gen i fmore then
    some (t.dispatch ⟨gen, i⟩ fmore)
  else none

/-- A cancel outside a `Sched.cancel` is the model's `cancelOp`; inside one, the `fail` of the
victim's context has sent it, and the line must name a waiter that cancel was owed to. -/
def stepCancel (t : T) (i : Nat) : Option T :=
  match (t.st.slots i).waiter with
  | none => none
  | some w =>
    match t.owed with
    | none =>
      if w.onRing = true ∧ t.st.cancelSent w.cont = false then
        some { t with cancelSent := ⟨upd t.cancelSent.f w.cont true⟩,
                      nCancel := ⟨upd t.nCancel.f w.cont (t.nCancel.f w.cont + 1)⟩ }
      else none
    | some l =>
      if t.st.failed w.sw = true then (erase w.cont l).map fun l' => { t with owed := some l' }
      else none

def stepWake (t : T) (i : Nat) : Option T :=
  match (t.st.slots i).waiter, t.owed with
  | some w, some _ =>
    if w.onRing = false ∧ t.st.failed w.sw = true then some (t.finish i w) else none
  | _, _ => none

def stepDeadlock (t : T) (i : Nat) : Option T :=
  match (t.st.slots i).waiter with
  | some w =>
    if t.owed.isNone = true ∧ w.onRing = false ∧ allBelow (offRing t.st) t.hi = true then
      some (t.finish i w)
    else none
  | none => none

def stepPwake (t : T) (i p : Nat) : Option T :=
  match (t.st.slots i).waiter, t.st.prom p with
  | some w, some v =>
    if t.owed.isNone = true ∧ w.onRing = false ∧ w.wait = some p then
      some (t.finishRet i w p v)
    else none
  | _, _ => none

def resolveSt (s : St) (p v : Nat) : St :=
  { s with prom := upd s.prom p (some v), nResolve := upd s.nResolve p (s.nResolve p + 1) }

def stepSignal (t : T) (i : Nat) : Option T :=
  match (t.st.slots i).waiter with
  | some w =>
    match w.wait with
    | some p =>
      if t.owed.isNone = true ∧ w.onRing = false ∧ (t.st.prom p).isNone = true then
        some ((t.resolve p 0).finishRet i w p 0)
      else none
    | none => none
  | none => none

def step? (t : T) : Ev → Option T
  | Ev.park i gen ctx onRing p => stepPark t i gen ctx onRing p
  | Ev.cqe gen i fmore what => stepCqe t gen i fmore what
  | Ev.cancel i => stepCancel t i
  | Ev.fail c ds =>
    if t.owed.isNone = true then some (failAll (ensureFailed { t with owed := some [] } c) ds) else none
  | Ev.wake i => stepWake t i
  | Ev.done =>
    match t.owed with
    | some [] => some { t with owed := none }
    | _ => none
  | Ev.deadlock i => stepDeadlock t i
  | Ev.resolve p =>
    if t.owed.isNone = true ∧ (t.st.prom p).isNone = true then some (t.resolve p 0) else none
  | Ev.pwake i p => stepPwake t i p
  | Ev.signal i => stepSignal t i
  | Ev.ready p =>
    match t.st.prom p with
    | some v =>
      if t.owed.isNone = true then
        some { t with ret := ⟨upd t.ret.f t.next (some (p, v))⟩, next := t.next + 1 }
      else none
    | none => none
  | Ev.endRun c =>
    if t.owed.isNone = true ∧ t.st.ended c = false ∧ allBelow (notIn t.st c) t.hi = true then
      some { t with ended := t.ended.set c true }
    else none

/-- Replay a trace from `t`, `n` lines having been accepted: the state after its last line, or
the number of lines accepted before the first rejected one. -/
def replay : T → Nat → List Ev → Except Nat T
  | t, _, [] => Except.ok t
  | t, n, e :: es =>
    match step? t e with
    | some t' => replay t' (n + 1) es
    | none => Except.error n

end Sched
end Ring
