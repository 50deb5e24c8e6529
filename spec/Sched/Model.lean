/-
Sched.Model: the fiber scheduler's bookkeeping (src/Init/IO/Sched.lean, Fiber.lean) as a
transition system.  The slot table is a function from index to `Slot` (generation + optional
waiter); a tag is `(gen, idx)`.  Ghost fields (`parkedIn`, `resumed`, `more`, `nResolve`,
`ret`, `nCancel`) record history and are never read by a guard.

A waiter's `cancelSent` flag (a field of the real `Waiter`) is kept here by continuation
(`St.cancelSent`): a continuation id is fresh at each park, so the two are the same thing, and
sending a cancel leaves the slot table untouched.

Simplifications (see spec/README.md): generations do not wrap (the real ones wrap at
0x7FFFFFFF); contexts do not nest (a waiter belongs to one switch, and only that switch's
`Switch.fail` reaches it); a `submitMany` whose `op` raises (parked, then unparked with no SQE
queued) is not modelled; the run queue is not modelled (a wake-up resumes at once).
-/
namespace Ring
namespace Sched

structure Tag where
  gen : Nat
  idx : Nat

structure Waiter where
  cont : Nat            -- the parked continuation (abstract id)
  sw : Nat              -- the switch whose context it is parked in
  onRing : Bool         -- a ring operation is in flight (Fiber.submitMany) or not (awaitIn)
  buf : Option Nat      -- the buffer lent to the operation, if any
  wait : Option Nat     -- the promise awaited (off-ring waiters)

structure Slot where
  gen : Nat
  waiter : Option Waiter

structure St where
  slots : Nat → Slot
  next : Nat                     -- fresh continuation ids
  parkedIn : Nat → Option Nat    -- ghost: continuation ↦ switch it was parked in
  resumed : Nat → Nat            -- ghost: how often each continuation was resumed
  more : Nat → Nat               -- ghost: F_MORE completions handed to each continuation
  lent : Nat → Option Nat        -- buffer ↦ continuation whose operation holds it
  cancelSent : Nat → Bool        -- continuation ↦ Waiter.cancelSent
  nCancel : Nat → Nat            -- ghost: cancel SQEs sent for a continuation's operation
  failed : Nat → Bool            -- switch ↦ Switch.fail happened
  ended : Nat → Bool             -- switch ↦ Switch.run returned
  prom : Nat → Option Nat        -- promise ↦ resolved value
  nResolve : Nat → Nat           -- ghost: resolutions per promise
  ret : Nat → Option (Nat × Nat) -- ghost: (promise awaited, value returned) per continuation

def upd {β : Type} (f : Nat → β) (a : Nat) (b : β) : Nat → β :=
  fun x => if x = a then b else f x

def init : St where
  slots := fun _ => { gen := 1, waiter := none }
  next := 0
  parkedIn := fun _ => none
  resumed := fun _ => 0
  more := fun _ => 0
  lent := fun _ => none
  cancelSent := fun _ => false
  nCancel := fun _ => 0
  failed := fun _ => false
  ended := fun _ => false
  prom := fun _ => none
  nResolve := fun _ => 0
  ret := fun _ => none

/-- Lend `buf` (if any) to continuation `c`. -/
def lendTo (lent : Nat → Option Nat) (buf : Option Nat) (c : Nat) : Nat → Option Nat :=
  match buf with
  | none => lent
  | some b => upd lent b (some c)

/-- Give back every buffer continuation `c` holds. -/
def release (lent : Nat → Option Nat) (c : Nat) : Nat → Option Nat :=
  fun b => if lent b = some c then none else lent b

/-- `Sched.park` on a free slot `i`: the waiter gets the slot, with the slot's generation. -/
def park (s : St) (i : Nat) (w : Waiter) : St :=
  { s with slots := upd s.slots i { gen := (s.slots i).gen, waiter := some w },
           next := s.next + 1,
           parkedIn := upd s.parkedIn w.cont (some w.sw),
           lent := lendTo s.lent w.buf w.cont }

/-- `Sched.unpark` of slot `i` holding `w`, then `w.resume`: the generation is bumped, the
continuation resumed, the operation's buffer given back. -/
def finish (s : St) (i : Nat) (w : Waiter) : St :=
  { s with slots := upd s.slots i { gen := (s.slots i).gen + 1, waiter := none },
           resumed := upd s.resumed w.cont (s.resumed w.cont + 1),
           lent := release s.lent w.cont }

/-- `finish`, and the continuation reads the value `v` of the promise `p` it awaited. -/
def finishRet (s : St) (i : Nat) (w : Waiter) (p v : Nat) : St :=
  { finish s i w with ret := upd s.ret w.cont (some (p, v)) }

/-- `tag` names a parked waiter (what `peek`/`unpark` look up). -/
def live (s : St) (t : Tag) : Prop :=
  (s.slots t.idx).gen = t.gen ∧ (s.slots t.idx).waiter ≠ none

/-- `Sched.dispatch` of a CQE with tag `t`; `fmore` is `IORING_CQE_F_MORE`. -/
def dispatch (s : St) (t : Tag) (fmore : Bool) : St :=
  if (s.slots t.idx).gen = t.gen then
    match (s.slots t.idx).waiter with
    | some w => if fmore then { s with more := upd s.more w.cont (s.more w.cont + 1) }
                else finish s t.idx w
    | none => s
  else s

/-- Continuation `c` is parked on the ring in switch `sw` and has had no cancel yet: the
waiters `Switch.fail`'s `Sched.cancel` sends an `IORING_OP_ASYNC_CANCEL` to. -/
def toCancel (s : St) (sw c : Nat) : Prop :=
  (∃ i w, (s.slots i).waiter = some w ∧ w.cont = c ∧ w.sw = sw ∧ w.onRing = true) ∧
  s.cancelSent c = false

inductive Step : St → St → Prop
  -- `Fiber.submitMany`/`submit`: park an on-ring waiter (fresh continuation `s.next`) on a
  -- free slot and queue its SQE with the tag; refused in a cancelled or finished switch.
  | submit (s : St) (i sw : Nat) (buf : Option Nat)
      (hfree : (s.slots i).waiter = none) (hok : s.failed sw = false) (hend : s.ended sw = false)
      (hbuf : ∀ b, buf = some b → s.lent b = none) :
      Step s (park s i { cont := s.next, sw := sw, onRing := true, buf := buf, wait := none })
  -- `Promise.awaitIn` on an unresolved promise: park off the ring.
  | awaitPark (s : St) (i sw p : Nat)
      (hfree : (s.slots i).waiter = none) (hok : s.failed sw = false) (hend : s.ended sw = false)
      (hp : s.prom p = none) :
      Step s (park s i { cont := s.next, sw := sw, onRing := false, buf := none, wait := some p })
  -- `Promise.awaitIn` on a resolved promise: continue at once with its value.
  | awaitReady (s : St) (p v : Nat) (hp : s.prom p = some v) :
      Step s { s with ret := upd s.ret s.next (some (p, v)), next := s.next + 1 }
  -- A CQE arrives and `Sched.dispatch` handles it.  The kernel only completes tags it was
  -- given: never the tag of a waiter parked off the ring.  Any other tag may arrive, with or
  -- without F_MORE: a live operation's, a completed one's (stale generation or empty slot).
  | cqe (s : St) (t : Tag) (fmore : Bool)
      (hk : ∀ w, (s.slots t.idx).gen = t.gen → (s.slots t.idx).waiter = some w → w.onRing = true) :
      Step s (dispatch s t fmore)
  -- Another context's cancel (`Fd.close`, `Fiber.first`'s `cancelFibers`) reaching one on-ring
  -- waiter not yet sent one: one `IORING_OP_ASYNC_CANCEL`, the waiter stays parked.
  | cancelOp (s : St) (i : Nat) (w : Waiter)
      (hw : (s.slots i).waiter = some w) (hr : w.onRing = true) (hc : s.cancelSent w.cont = false) :
      Step s { s with cancelSent := upd s.cancelSent w.cont true,
                      nCancel := upd s.nCancel w.cont (s.nCancel w.cont + 1) }
  -- `Switch.fail` (first failure only): `Sched.cancel` sends one cancel to each on-ring waiter
  -- of the switch not yet sent one (`toCancel`), and touches no other.
  | fail (s : St) (sw : Nat) (cs : Nat → Bool) (nc : Nat → Nat) (hf : s.failed sw = false)
      (hyes : ∀ c, toCancel s sw c → cs c = true ∧ nc c = s.nCancel c + 1)
      (hno : ∀ c, ¬ toCancel s sw c → cs c = s.cancelSent c ∧ nc c = s.nCancel c) :
      Step s { s with failed := upd s.failed sw true, cancelSent := cs, nCancel := nc }
  -- `Sched.cancel`'s wake-up of an off-ring waiter of a failed switch (resumed with an error).
  | wakeCancelled (s : St) (i : Nat) (w : Waiter)
      (hw : (s.slots i).waiter = some w) (hr : w.onRing = false) (hf : s.failed w.sw = true) :
      Step s (finish s i w)
  -- `Sched.deadlock`: nothing is on the ring, so an off-ring waiter is woken with an error.
  | wakeDeadlock (s : St) (i : Nat) (w : Waiter)
      (hw : (s.slots i).waiter = some w) (hr : w.onRing = false)
      (hnone : ∀ j w', (s.slots j).waiter = some w' → w'.onRing = false) :
      Step s (finish s i w)
  -- `Promise.tryResolve` of an unresolved promise.
  | resolve (s : St) (p v : Nat) (hp : s.prom p = none) :
      Step s { s with prom := upd s.prom p (some v), nResolve := upd s.nResolve p (s.nResolve p + 1) }
  -- `tryResolve`'s wake-up of a waiter of a resolved promise: it reads the value.
  | wakePromise (s : St) (i p v : Nat) (w : Waiter)
      (hw : (s.slots i).waiter = some w) (hr : w.onRing = false) (hwait : w.wait = some p)
      (hp : s.prom p = some v) :
      Step s (finishRet s i w p v)
  -- `Switch.run` returns: its join waited until no fiber of the switch is parked.
  | endRun (s : St) (sw : Nat) (hend : s.ended sw = false)
      (hnone : ∀ i w, (s.slots i).waiter = some w → w.sw ≠ sw) :
      Step s { s with ended := upd s.ended sw true }

inductive Reach : St → Prop
  | init : Reach init
  | step {s s' : St} : Reach s → Step s s' → Reach s'

end Sched
end Ring
