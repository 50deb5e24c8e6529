/-
Sched.Basic: lemmas about `upd`, `park`, `finish` and `dispatch`, and the stale-CQE theorems:
`dispatch` of a tag that names no parked waiter is the identity, and an F_MORE CQE resumes
nothing and frees nothing.
-/
import Sched.Model

namespace Ring
open Sched

theorem Sched.upd_same {β : Type} (f : Nat → β) (a : Nat) (b : β) : upd f a b a = b := by
  show (if a = a then b else f a) = b
  rw [ifPos rfl]

theorem Sched.upd_other {β : Type} (f : Nat → β) (a : Nat) (b : β) {x : Nat} (h : x ≠ a) :
    upd f a b x = f x := by
  show (if x = a then b else f x) = f x
  rw [ifNeg h]

theorem Sched.park_slot_i (s : St) (i : Nat) (w0 : Waiter) :
    ((park s i w0).slots i).waiter = some w0 := by
  show ((upd s.slots i _) i).waiter = some w0
  rw [upd_same]

theorem Sched.park_slot_old (s : St) (i : Nat) (w0 : Waiter) {j : Nat} (h : j ≠ i) :
    (park s i w0).slots j = s.slots j := upd_other _ _ _ h

theorem Sched.park_slot_waiter (s : St) (i : Nat) (w0 : Waiter) (j : Nat) (w : Waiter)
    (h : ((park s i w0).slots j).waiter = some w) :
    (j = i ∧ w = w0) ∨ (j ≠ i ∧ (s.slots j).waiter = some w) :=
  Decidable.byCases
    (fun hj : j = i => by
      subst hj
      rw [park_slot_i] at h
      exact Or.inl ⟨rfl, (Option.some.inj h).symm⟩)
    (fun hj : j ≠ i => by
      rw [park_slot_old s i w0 hj] at h
      exact Or.inr ⟨hj, h⟩)

theorem Sched.finish_slot_i (s : St) (i : Nat) (w : Waiter) :
    ((finish s i w).slots i).waiter = none := by
  show ((upd s.slots i _) i).waiter = none
  rw [upd_same]

theorem Sched.finish_slot_old (s : St) (i : Nat) (w : Waiter) {j : Nat} (h : j ≠ i) :
    (finish s i w).slots j = s.slots j := upd_other _ _ _ h

theorem Sched.finish_slot_waiter (s : St) (i : Nat) (w0 : Waiter) (j : Nat) (w : Waiter)
    (h : ((finish s i w0).slots j).waiter = some w) :
    j ≠ i ∧ (s.slots j).waiter = some w :=
  Decidable.byCases
    (fun hj : j = i => by
      subst hj
      rw [finish_slot_i] at h
      exact Option.noConfusion h)
    (fun hj : j ≠ i => by
      rw [finish_slot_old s i w0 hj] at h
      exact ⟨hj, h⟩)

/-- The three outcomes of `dispatch`: nothing, an F_MORE hand-over, a final completion. -/
theorem Sched.dispatch_cases (s : St) (t : Tag) (f : Bool) :
    dispatch s t f = s ∨
    (∃ w, (s.slots t.idx).gen = t.gen ∧ (s.slots t.idx).waiter = some w ∧
      ((f = true ∧ dispatch s t f = { s with more := upd s.more w.cont (s.more w.cont + 1) }) ∨
       (f = false ∧ dispatch s t f = finish s t.idx w))) :=
  Decidable.byCases
    (fun hg : (s.slots t.idx).gen = t.gen => by
      cases hw : (s.slots t.idx).waiter with
      | none =>
        apply Or.inl
        simp only [dispatch, ifPos hg, hw]; try rfl
      | some w =>
        apply Or.inr
        refine ⟨w, hg, rfl, ?_⟩
        cases f with
        | true =>
          apply Or.inl
          refine ⟨rfl, ?_⟩
          simp only [dispatch, ifPos hg, hw]; try rfl
        | false =>
          apply Or.inr
          refine ⟨rfl, ?_⟩
          simp only [dispatch, ifPos hg, hw]; try rfl)
    (fun hg => by
      apply Or.inl
      simp only [dispatch, ifNeg hg]; try rfl)

/-- A stale CQE (generation mismatch or empty slot) changes nothing. -/
theorem Sched.dispatch_stale (s : St) (t : Tag) (f : Bool) (h : ¬ live s t) :
    dispatch s t f = s := by
  cases dispatch_cases s t f with
  | inl e => exact e
  | inr e =>
    cases e with
    | intro w hw =>
      apply False.elim
      apply h
      refine ⟨hw.1, ?_⟩
      rw [hw.2.1]
      exact fun e => Option.noConfusion e

/-- An F_MORE CQE resumes nothing, frees no slot, bumps no generation and gives back no buffer:
only the `more` count of the waiter it names (if any) changes. -/
theorem Sched.dispatch_more (s : St) (t : Tag) :
    (dispatch s t true).slots = s.slots ∧ (dispatch s t true).resumed = s.resumed ∧
    (dispatch s t true).lent = s.lent ∧ (dispatch s t true).next = s.next := by
  cases dispatch_cases s t true with
  | inl e => rw [e]; exact ⟨rfl, rfl, rfl, rfl⟩
  | inr e =>
    cases e with
    | intro w hw =>
      cases hw.2.2 with
      | inl h => rw [h.2]; exact ⟨rfl, rfl, rfl, rfl⟩
      | inr h => exact Bool.noConfusion h.1

/-- A final (non-F_MORE) CQE for a live tag resumes the waiter it names, once. -/
theorem Sched.dispatch_final (s : St) (t : Tag) (w : Waiter)
    (hg : (s.slots t.idx).gen = t.gen) (hw : (s.slots t.idx).waiter = some w) :
    dispatch s t false = finish s t.idx w := by
  simp only [dispatch, ifPos hg, hw]; try rfl

end Ring
