/-
Sched.Theorems: what the scheduler model guarantees in every reachable state (`Reach`, all
steps), derived from `Sched.reach_inv`, plus step-level statements about how a waiter leaves
the table.  See spec/README.md, "The scheduler model (spec/Sched)", for what each covers.
-/
import Sched.Inv

namespace Ring
open Sched

theorem Sched.le_one_ne_zero {n : Nat} (h1 : n ≤ 1) (h0 : n ≠ 0) : n = 1 := by
  cases n with
  | zero => exact absurd rfl h0
  | succ m =>
    cases m with
    | zero => rfl
    | succ k => exact absurd (Nat.leOfSuccLeSucc h1) (Nat.notSuccLeZero _)

/-! ### Resumption -/

/-- Every continuation is resumed at most once. -/
theorem Sched.resumed_le_one {s : St} (r : Reach s) (c : Nat) : s.resumed c ≤ 1 :=
  (reach_inv r).once c

/-- A waiter in the table has been parked (in its own switch) and not yet resumed. -/
theorem Sched.slot_parked {s : St} (r : Reach s) {i : Nat} {w : Waiter}
    (h : (s.slots i).waiter = some w) :
    s.parkedIn w.cont = some w.sw ∧ s.resumed w.cont = 0 :=
  ⟨(reach_inv r).swOf i w h, ((reach_inv r).parked w.cont |>.mp ⟨i, w, h, rfl⟩).2⟩

/-- A continuation that was parked and is not yet resumed is in exactly one slot. -/
theorem Sched.parked_one_slot {s : St} (r : Reach s) (c : Nat)
    (hp : s.parkedIn c ≠ none) (hr : s.resumed c = 0) :
    ∃ i w, (s.slots i).waiter = some w ∧ w.cont = c ∧
      ∀ j w', (s.slots j).waiter = some w' → w'.cont = c → j = i :=
  let ⟨i, w, h, hc⟩ := (reach_inv r).parked c |>.mpr ⟨hp, hr⟩
  ⟨i, w, h, hc, fun j w' h' hc' => (reach_inv r).uniq j i w' w h' h (hc'.trans hc.symm)⟩

/-- The final (non-F_MORE) CQE of a parked on-ring waiter, with its tag, is a step, and
resumes the waiter's continuation: after it, resumed once, its slot empty. -/
theorem Sched.final_cqe_resumes {s : St} (r : Reach s) {i : Nat} {w : Waiter}
    (h : (s.slots i).waiter = some w) (hr : w.onRing = true) :
    Step s (dispatch s ⟨(s.slots i).gen, i⟩ false) ∧
    (dispatch s ⟨(s.slots i).gen, i⟩ false).resumed w.cont = 1 ∧
    ((dispatch s ⟨(s.slots i).gen, i⟩ false).slots i).waiter = none := by
  have e := dispatch_final s ⟨(s.slots i).gen, i⟩ w rfl h
  have hk : ∀ w', (s.slots i).gen = (s.slots i).gen → (s.slots i).waiter = some w' →
      w'.onRing = true := fun w' _ h' => by
    have : w = w' := Option.some.inj (h.symm.trans h')
    rw [← this]; exact hr
  refine ⟨Step.cqe s ⟨(s.slots i).gen, i⟩ false hk, ?_, ?_⟩
  · rw [e]
    show upd s.resumed w.cont (s.resumed w.cont + 1) w.cont = 1
    rw [upd_same, (slot_parked r h).2]
  · rw [e]; exact finish_slot_i s i w

/-- A waiter on the ring leaves its slot only by the final (non-F_MORE) CQE of its live tag,
which resumes its continuation (once in all). -/
theorem Sched.onRing_leaves_by_final_cqe {s s' : St} (r : Reach s) (st : Step s s') {i : Nat}
    {w : Waiter} (hw : (s.slots i).waiter = some w) (hr : w.onRing = true)
    (hgone : (s'.slots i).waiter ≠ some w) :
    ∃ t : Tag, t.idx = i ∧ t.gen = (s.slots i).gen ∧ s' = dispatch s t false ∧
      s'.resumed w.cont = 1 := by
  have parkOld : ∀ j w0, (s.slots j).waiter = none → ((park s j w0).slots i).waiter = some w :=
    fun j w0 hfree => by
      have hij : i ≠ j := fun e => by rw [e, hfree] at hw; exact Option.noConfusion hw
      rw [park_slot_old s j w0 hij]; exact hw
  have finOff : ∀ j w', (s.slots j).waiter = some w' → w'.onRing = false →
      ((finish s j w').slots i).waiter = some w := fun j w' hj hoff => by
    have hij : i ≠ j := fun e => by
      rw [e, hj] at hw
      rw [Option.some.inj hw, hr] at hoff
      exact Bool.noConfusion hoff
    rw [finish_slot_old s j w' hij]; exact hw
  cases st with
  | submit _ j _ _ hfree _ _ _ => exact absurd (parkOld j _ hfree) hgone
  | awaitPark _ j _ _ hfree _ _ _ => exact absurd (parkOld j _ hfree) hgone
  | awaitReady => exact absurd hw hgone
  | cqe _ t fmore _ =>
    cases dispatch_cases s t fmore with
    | inl e => rw [e] at hgone; exact absurd hw hgone
    | inr e =>
      have ⟨w', hg, hw', hc⟩ := e
      cases hc with
      | inl h =>
        rw [h.2] at hgone; exact absurd hw hgone
      | inr h =>
        byCases hi : t.idx = i
        · rw [hi] at hw' hg
          have hww : w' = w := Option.some.inj (hw'.symm.trans hw)
          rw [hww] at h
          refine ⟨t, hi, hg.symm, ?_, ?_⟩
          · rw [h.1]
          · rw [h.2]
            show upd s.resumed w.cont (s.resumed w.cont + 1) w.cont = 1
            rw [upd_same, (slot_parked r hw).2]
        · rw [h.2, finish_slot_old s t.idx w' (fun e => hi e.symm)] at hgone
          exact absurd hw hgone
  | cancelOp => exact absurd hw hgone
  | fail => exact absurd hw hgone
  | wakeCancelled _ j w' hj hoff _ => exact absurd (finOff j w' hj hoff) hgone
  | wakeDeadlock _ j w' hj hoff _ => exact absurd (finOff j w' hj hoff) hgone
  | resolve => exact absurd hw hgone
  | wakePromise _ j _ _ w' hj hoff _ _ => exact absurd (finOff j w' hj hoff) hgone
  | endRun => exact absurd hw hgone

/-! ### Buffers -/

/-- A buffer is lent to `c` exactly while `c`'s waiter holding it is parked. -/
theorem Sched.lent_iff_parked {s : St} (r : Reach s) (b c : Nat) :
    s.lent b = some c ↔ ∃ i w, (s.slots i).waiter = some w ∧ w.cont = c ∧ w.buf = some b :=
  (reach_inv r).lentIff b c

/-- A lent buffer is given back only by the final (non-F_MORE) CQE of the operation holding
it: if a step ends the loan of `b` to `c`, that step is `dispatch` of a final CQE whose tag
names the slot of `c`'s waiter, in its generation. -/
theorem Sched.lent_released_by_final_cqe {s s' : St} (r : Reach s) (st : Step s s') {b c : Nat}
    (hl : s.lent b = some c) (hl' : s'.lent b ≠ some c) :
    ∃ i w t, (s.slots i).waiter = some w ∧ w.cont = c ∧ w.buf = some b ∧ w.onRing = true ∧
      t.idx = i ∧ t.gen = (s.slots i).gen ∧ s' = dispatch s t false := by
  have ⟨i, w, hw, hc, hb⟩ := (lent_iff_parked r b c).mp hl
  have hr : w.onRing = true :=
    (reach_inv r).bufRing i w hw (fun e => by rw [e] at hb; exact Option.noConfusion hb)
  have hgone : (s'.slots i).waiter ≠ some w := fun h' =>
    hl' ((lent_iff_parked (Reach.step r st) b c).mpr ⟨i, w, h', hc, hb⟩)
  have ⟨t, ht1, ht2, ht3, _⟩ := onRing_leaves_by_final_cqe r st hw hr hgone
  exact ⟨i, w, t, hw, hc, hb, hr, ht1, ht2, ht3⟩

/-! ### Promises -/

/-- A promise is resolved at most once. -/
theorem Sched.nResolve_le_one {s : St} (r : Reach s) (p : Nat) : s.nResolve p ≤ 1 := by
  have h := (reach_inv r).resolve1 p
  cases hp : s.prom p with
  | none => rw [h.1 hp]; exact Nat.zeroLe _
  | some v =>
    rw [h.2 (fun e => by rw [hp] at e; exact Option.noConfusion e)]
    exact Nat.leRefl _

/-- An `await` returns the value the awaited promise is resolved to. -/
theorem Sched.await_returns_resolved {s : St} (r : Reach s) {c p v : Nat}
    (h : s.ret c = some (p, v)) : s.prom p = some v :=
  (reach_inv r).retOk c p v h

/-- A resolved promise keeps its value across every step. -/
theorem Sched.prom_stable {s s' : St} (st : Step s s') {p v : Nat} (h : s.prom p = some v) :
    s'.prom p = some v := by
  cases st with
  | cqe _ t fmore _ =>
    cases dispatch_cases s t fmore with
    | inl e => rw [e]; exact h
    | inr e =>
      have ⟨_, _, _, hc⟩ := e
      cases hc with
      | inl hh => rw [hh.2]; exact h
      | inr hh => rw [hh.2]; exact h
  | resolve _ q u hq =>
    show upd s.prom q (some u) p = some v
    have hpq : p ≠ q := fun e => by rw [e, hq] at h; exact Option.noConfusion h
    rw [upd_other _ _ _ hpq]; exact h
  | submit => exact h
  | awaitPark => exact h
  | awaitReady => exact h
  | cancelOp => exact h
  | fail => exact h
  | wakeCancelled => exact h
  | wakeDeadlock => exact h
  | wakePromise => exact h
  | endRun => exact h

/-! ### Cancellation and the end of a switch -/

/-- At most one cancel is ever sent for an operation (per continuation). -/
theorem Sched.nCancel_le_one {s : St} (r : Reach s) (c : Nat) : s.nCancel c ≤ 1 := by
  have h := (reach_inv r).cancel1 c
  cases hc : s.cancelSent c with
  | false => rw [h.1 hc]; exact Nat.zeroLe _
  | true => rw [h.2 hc]; exact Nat.leRefl _

/-- After `Switch.fail`, every on-ring waiter of that switch still parked has been sent exactly
one cancel. -/
theorem Sched.failed_cancel_once {s : St} (r : Reach s) {sw i : Nat} {w : Waiter}
    (hf : s.failed sw = true) (h : (s.slots i).waiter = some w) (hsw : w.sw = sw)
    (hr : w.onRing = true) : s.cancelSent w.cont = true ∧ s.nCancel w.cont = 1 :=
  let hc := (reach_inv r).failSent sw i w hf h hsw hr
  ⟨hc, ((reach_inv r).cancel1 w.cont).2 hc⟩

/-- Once `Switch.run` has returned, no waiter of that switch is parked. -/
theorem Sched.ended_none_parked {s : St} (r : Reach s) {sw i : Nat} {w : Waiter}
    (he : s.ended sw = true) (h : (s.slots i).waiter = some w) : w.sw ≠ sw :=
  (reach_inv r).endedNone sw i w he h

/-- Once `Switch.run` has returned, every continuation ever parked in that switch has been
resumed, exactly once (for an on-ring one: its final CQE has arrived,
`onRing_leaves_by_final_cqe`). -/
theorem Sched.ended_all_resumed {s : St} (r : Reach s) {sw c : Nat}
    (he : s.ended sw = true) (hp : s.parkedIn c = some sw) : s.resumed c = 1 := by
  apply le_one_ne_zero (resumed_le_one r c)
  intro h0
  have ⟨i, w, h, hc⟩ := (reach_inv r).parked c |>.mpr ⟨fun e => by rw [hp] at e; exact Option.noConfusion e, h0⟩
  have h1 := (reach_inv r).swOf i w h
  rw [hc, hp] at h1
  exact ended_none_parked r he h (Option.some.inj h1).symm

end Ring
