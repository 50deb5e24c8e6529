/-
Sched.Gen: slot generations never decrease, so a tag that has gone stale stays stale; a final
CQE makes its own tag stale; every generation is at least 1, so tag generation 0 (the
`userData` 0 of a cancel's own CQE) never names a waiter.
-/
import Sched.Basic

namespace Ring
open Sched

theorem Sched.park_gen (s : St) (j : Nat) (w0 : Waiter) (i : Nat) :
    ((park s j w0).slots i).gen = (s.slots i).gen := by
  byCases h : i = j
  · rw [h]
    show ((upd s.slots j _) j).gen = _
    rw [upd_same]
  · rw [park_slot_old s j w0 h]

theorem Sched.finish_gen (s : St) (j : Nat) (w : Waiter) (i : Nat) :
    (s.slots i).gen ≤ ((finish s j w).slots i).gen := by
  byCases h : i = j
  · rw [h]
    show _ ≤ ((upd s.slots j _) j).gen
    rw [upd_same]
    exact Nat.leSucc _
  · rw [finish_slot_old s j w h]; exact Nat.leRefl _

/-- No step lowers a slot's generation. -/
theorem Sched.gen_mono {s s' : St} (st : Step s s') (i : Nat) :
    (s.slots i).gen ≤ (s'.slots i).gen := by
  cases st with
  | submit _ j => rw [park_gen]; exact Nat.leRefl _
  | awaitPark _ j => rw [park_gen]; exact Nat.leRefl _
  | cqe _ t fmore _ =>
    cases dispatch_cases s t fmore with
    | inl e => rw [e]; exact Nat.leRefl _
    | inr e =>
      have ⟨w, _, _, hc⟩ := e
      cases hc with
      | inl h => rw [h.2]; exact Nat.leRefl _
      | inr h => rw [h.2]; exact finish_gen s t.idx w i
  | wakeCancelled _ j w => exact finish_gen s j w i
  | wakeDeadlock _ j w => exact finish_gen s j w i
  | wakePromise _ j _ _ w => exact finish_gen s j w i
  | awaitReady => exact Nat.leRefl _
  | cancelOp => exact Nat.leRefl _
  | fail => exact Nat.leRefl _
  | resolve => exact Nat.leRefl _
  | endRun => exact Nat.leRefl _

/-- Every slot's generation is at least 1 in every reachable state. -/
theorem Sched.gen_pos {s : St} (r : Reach s) (i : Nat) : 1 ≤ (s.slots i).gen := by
  induction r with
  | init => exact Nat.leRefl _
  | step _ st ih => exact Nat.leTrans ih (gen_mono st i)

/-- A tag older than its slot's generation names nothing: its CQE is the identity. -/
theorem Sched.dispatch_old (s : St) (t : Tag) (f : Bool) (h : t.gen < (s.slots t.idx).gen) :
    dispatch s t f = s :=
  dispatch_stale s t f (fun hl => by
    have := hl.1
    rw [this] at h
    exact Nat.ltIrrefl _ h)

/-- A stale tag stays stale across every step. -/
theorem Sched.stale_stays {s s' : St} (st : Step s s') (t : Tag)
    (h : t.gen < (s.slots t.idx).gen) : t.gen < (s'.slots t.idx).gen :=
  Nat.ltOfLtOfLe h (gen_mono st t.idx)

/-- A final CQE for a live tag makes that tag stale: a duplicate or late CQE with the same tag
resumes nothing (`dispatch_old`, `stale_stays`). -/
theorem Sched.final_makes_stale (s : St) (t : Tag) (w : Waiter)
    (hg : (s.slots t.idx).gen = t.gen) (hw : (s.slots t.idx).waiter = some w) :
    t.gen < ((dispatch s t false).slots t.idx).gen := by
  rw [dispatch_final s t w hg hw]
  show t.gen < ((upd s.slots t.idx _) t.idx).gen
  rw [upd_same]
  show t.gen < (s.slots t.idx).gen + 1
  rw [hg]
  exact Nat.ltSuccSelf _

/-- A CQE with tag generation 0 (a cancel's own, `userData` 0) changes nothing. -/
theorem Sched.dispatch_gen_zero {s : St} (r : Reach s) (i : Nat) (f : Bool) :
    dispatch s ⟨0, i⟩ f = s :=
  dispatch_old s ⟨0, i⟩ f (gen_pos r i)

end Ring
