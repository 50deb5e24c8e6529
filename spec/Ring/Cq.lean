/-
Ring.Cq: the completion-queue invariant (with the NODROP overflow list) and its theorems.
-/
import Ring.L2

namespace Ring

structure InvCq (s : St) : Prop where
  capPos : 0 < s.cqCap
  headLeU : s.cqHead ≤ s.uCqHead
  uLeSeen : s.uCqHead ≤ s.uCqTailSeen
  seenLeTail : s.uCqTailSeen ≤ s.cqTail
  tailLeCqe : s.cqTail ≤ s.cqeTail
  seenLeHead : s.cqHeadSeen ≤ s.cqHead
  full : s.cqeTail ≤ s.cqHeadSeen + s.cqCap
  /-- every posted, unreaped CQ index still holds the CQE posted there -/
  live : ∀ j, s.uCqHead ≤ j → j < s.cqeTail → s.cqes (slot s.cqCap j) = some (s.postAt j)
  /-- the user reaped exactly the first `uCqHead` posted CQEs, in order -/
  log : s.reaped = pre s.postAt s.uCqHead
  /-- every completion produced is in the CQ history or, after it, on the overflow list -/
  conserve : s.produced = pre s.postAt s.cqeTail ++ s.overflow

theorem invCq_init (cap cqCap : Nat) (h : 0 < cqCap) : InvCq (init cap cqCap) where
  capPos := h
  headLeU := Nat.leRefl 0
  uLeSeen := Nat.leRefl 0
  seenLeTail := Nat.leRefl 0
  tailLeCqe := Nat.leRefl 0
  seenLeHead := Nat.leRefl 0
  full := Nat.zeroLe _
  live := fun j _ hj => absurd hj (Nat.notLtZero j)
  log := rfl
  conserve := rfl

/-- Writing the next CQ index keeps every live unreaped index intact. -/
theorem live_post {s : St} (inv : InvCq s) (c : Cqe) (hroom : s.cqeTail < s.cqHeadSeen + s.cqCap) :
    ∀ j, s.uCqHead ≤ j → j < s.cqeTail + 1 →
      upd s.cqes (slot s.cqCap s.cqeTail) (some c) (slot s.cqCap j) = some (upd s.postAt s.cqeTail c j) := by
  intro j hu hj
  cases Nat.eqOrLtOfLe (Nat.leOfLtSucc hj) with
  | inl hEq => rw [hEq, upd_same, upd_same]
  | inr hLt =>
    have hne : j ≠ s.cqeTail := fun e => by rw [e] at hLt; exact lt_irrefl _ hLt
    have hwin : s.cqeTail < j + s.cqCap :=
      Nat.ltOfLtOfLe hroom (Nat.addLeAddRight
        (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeU hu)) s.cqCap)
    have hslot : slot s.cqCap j ≠ slot s.cqCap s.cqeTail :=
      fun e => slot_ne inv.capPos hLt hwin e.symm
    rw [upd_other _ _ hslot, upd_other _ _ hne]
    exact inv.live j hu hLt

theorem uLe_cqe {s : St} (inv : InvCq s) : s.uCqHead ≤ s.cqeTail :=
  Nat.leTrans inv.uLeSeen (Nat.leTrans inv.seenLeTail inv.tailLeCqe)

theorem invCq_step {s s' : St} (inv : InvCq s) (st : Step s s') : InvCq s' := by
  cases st with
  | kPost s c _ hov hroom =>
    exact {
      capPos := inv.capPos, headLeU := inv.headLeU, uLeSeen := inv.uLeSeen,
      seenLeTail := inv.seenLeTail, tailLeCqe := Nat.leStep inv.tailLeCqe,
      seenLeHead := inv.seenLeHead, full := hroom,
      live := live_post inv c hroom,
      log := by
        show s.reaped = pre (upd s.postAt s.cqeTail c) s.uCqHead
        rw [pre_upd _ _ _ _ (uLe_cqe inv)]; exact inv.log,
      conserve := by
        show s.produced ++ [c] = pre (upd s.postAt s.cqeTail c) (s.cqeTail + 1) ++ s.overflow
        rw [pre_upd_succ, inv.conserve, hov, List.append_nil, List.append_nil] }
  | kFlush s c cs hov hroom =>
    exact {
      capPos := inv.capPos, headLeU := inv.headLeU, uLeSeen := inv.uLeSeen,
      seenLeTail := inv.seenLeTail, tailLeCqe := Nat.leStep inv.tailLeCqe,
      seenLeHead := inv.seenLeHead, full := hroom,
      live := live_post inv c hroom,
      log := by
        show s.reaped = pre (upd s.postAt s.cqeTail c) s.uCqHead
        rw [pre_upd _ _ _ _ (uLe_cqe inv)]; exact inv.log,
      conserve := by
        show s.produced = pre (upd s.postAt s.cqeTail c) (s.cqeTail + 1) ++ cs
        rw [pre_upd_succ, inv.conserve, hov, List.append_assoc]; rfl }
  | kOverflow s c _ _ =>
    exact {
      capPos := inv.capPos, headLeU := inv.headLeU, uLeSeen := inv.uLeSeen,
      seenLeTail := inv.seenLeTail, tailLeCqe := inv.tailLeCqe,
      seenLeHead := inv.seenLeHead, full := inv.full, live := inv.live, log := inv.log,
      conserve := by
        show s.produced ++ [c] = pre s.postAt s.cqeTail ++ (s.overflow ++ [c])
        rw [inv.conserve, List.append_assoc] }
  | kLoadCqHead s h h1 h2 =>
    exact { inv with
      seenLeHead := h2,
      full := Nat.leTrans inv.full (Nat.addLeAddRight h1 s.cqCap) }
  | kCommitCq s =>
    exact { inv with
      seenLeTail := Nat.leTrans inv.seenLeTail inv.tailLeCqe,
      tailLeCqe := Nat.leRefl _ }
  | uLoadCqTail s t h1 h2 =>
    exact { inv with uLeSeen := Nat.leTrans inv.uLeSeen h1, seenLeTail := h2 }
  | uReap s c hlt hslot =>
    have hu : s.uCqHead < s.cqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeCqe)
    have hc : c = s.postAt s.uCqHead := by
      have h2 := inv.live s.uCqHead (Nat.leRefl _) hu
      rw [hslot] at h2
      injection h2
      assumption
    exact {
      capPos := inv.capPos,
      headLeU := Nat.leStep inv.headLeU,
      uLeSeen := hlt,
      seenLeTail := inv.seenLeTail, tailLeCqe := inv.tailLeCqe, seenLeHead := inv.seenLeHead,
      full := inv.full,
      live := fun j hj hj2 => inv.live j (Nat.leOfSuccLe hj) hj2,
      log := by
        show s.reaped ++ [c] = pre s.postAt (s.uCqHead + 1)
        rw [inv.log, hc]; rfl,
      conserve := inv.conserve }
  | uCqAdvance s =>
    exact { inv with headLeU := Nat.leRefl _, seenLeHead := Nat.leTrans inv.seenLeHead inv.headLeU }
  | uGetSqe s e _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩
  | uLoadHead s h _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩
  | uPublish s =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩
  | kLoadTail s t _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩
  | kGetSqe s e _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩
  | kCommitSq s =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10⟩

theorem reach_invCq {s : St} (r : Reach s) : InvCq s := by
  induction r with
  | init cap cqCap _ h => exact invCq_init cap cqCap h
  | step _ st ih => exact invCq_step ih st

/-! ### CQ theorems -/

/-- In every reachable state `0 ≤ cqTail - cqHead ≤ cqCap`. -/
theorem cq_bounds {s : St} (r : Reach s) : s.cqHead ≤ s.cqTail ∧ s.cqTail ≤ s.cqHead + s.cqCap :=
  let inv := reach_invCq r
  ⟨Nat.leTrans inv.headLeU (Nat.leTrans inv.uLeSeen inv.seenLeTail),
   Nat.leTrans inv.tailLeCqe (Nat.leTrans inv.full (Nat.addLeAddRight inv.seenLeHead s.cqCap))⟩

/-- The user reaped exactly the first `uCqHead` CQEs posted, each once, in posting order; that
is a prefix of all completions produced. -/
theorem cq_reaped_exactly {s : St} (r : Reach s) :
    s.reaped = pre s.postAt s.uCqHead ∧ s.uCqHead ≤ s.cqeTail ∧ Prefix s.reaped s.produced :=
  let inv := reach_invCq r
  ⟨inv.log, uLe_cqe inv, by
    rw [inv.log, inv.conserve]
    exact Prefix.trans (pre_prefix s.postAt s.uCqHead s.cqeTail (uLe_cqe inv)) ⟨s.overflow, rfl⟩⟩

/-- Overflow loses nothing and keeps order: the completions produced are exactly those placed
in the CQ so far followed by the overflow list, oldest first. -/
theorem cq_overflow_conserves {s : St} (r : Reach s) :
    s.produced = pre s.postAt s.cqeTail ++ s.overflow :=
  (reach_invCq r).conserve

/-- A reap returns exactly the next posted CQE. -/
theorem cq_reap_next {s : St} {c : Cqe} (r : Reach s) (hlt : s.uCqHead < s.uCqTailSeen)
    (hslot : s.cqes (slot s.cqCap s.uCqHead) = some c) : c = s.postAt s.uCqHead := by
  have inv := reach_invCq r
  have hu : s.uCqHead < s.cqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeCqe)
  have h2 := inv.live s.uCqHead (Nat.leRefl _) hu
  rw [hslot] at h2
  injection h2
  assumption

/-- The kernel never overwrites an unreaped CQE. -/
theorem cq_no_overwrite {s : St} (r : Reach s) (hroom : s.cqeTail < s.cqHeadSeen + s.cqCap)
    {j : Nat} (hu : s.uCqHead ≤ j) (hj : j < s.cqeTail) :
    slot s.cqCap s.cqeTail ≠ slot s.cqCap j := by
  have inv := reach_invCq r
  have hwin : s.cqeTail < j + s.cqCap :=
    Nat.ltOfLtOfLe hroom (Nat.addLeAddRight (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeU hu)) s.cqCap)
  exact slot_ne inv.capPos hj hwin

end Ring
