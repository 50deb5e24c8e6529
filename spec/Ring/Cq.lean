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
  /-- every published, unreaped index's slot holds a released write -/
  pub : ∀ j, s.uCqHead ≤ j → j < s.cqTail → s.cqPub (slot s.cqCap j) = true

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
  pub := fun j _ hj => absurd hj (Nat.notLtZero j)

/-- The slot the kernel may fill is not the slot of any index from the released head on. -/
theorem cq_post_window {s : St} (inv : InvCq s) (hroom : s.cqeTail < s.cqHeadSeen + s.cqCap)
    {j : Nat} (hh : s.cqHead ≤ j) (hj : j < s.cqeTail) : slot s.cqCap j ≠ slot s.cqCap s.cqeTail :=
  have hwin : s.cqeTail < j + s.cqCap :=
    Nat.ltOfLtOfLe hroom (Nat.addLeAddRight (Nat.leTrans inv.seenLeHead hh) s.cqCap)
  fun e => slot_ne inv.capPos hj hwin e.symm

/-- Writing the next CQ index keeps every live unreaped index intact. -/
theorem live_post {s : St} (inv : InvCq s) (c : Cqe) (hroom : s.cqeTail < s.cqHeadSeen + s.cqCap) :
    ∀ j, s.uCqHead ≤ j → j < s.cqeTail + 1 →
      upd s.cqes (slot s.cqCap s.cqeTail) (some c) (slot s.cqCap j) = some (upd s.postAt s.cqeTail c j) := by
  intro j hu hj
  cases Nat.eqOrLtOfLe (Nat.leOfLtSucc hj) with
  | inl hEq => rw [hEq, upd_same, upd_same]
  | inr hLt =>
    have hne : j ≠ s.cqeTail := fun e => by rw [e] at hLt; exact lt_irrefl _ hLt
    rw [upd_other _ _ (cq_post_window inv hroom (Nat.leTrans inv.headLeU hu) hLt), upd_other _ _ hne]
    exact inv.live j hu hLt

/-- Writing the next CQ index leaves every published, unreaped slot released. -/
theorem pub_post {s : St} (inv : InvCq s) (hroom : s.cqeTail < s.cqHeadSeen + s.cqCap) :
    ∀ j, s.uCqHead ≤ j → j < s.cqTail →
      upd s.cqPub (slot s.cqCap s.cqeTail) false (slot s.cqCap j) = true := by
  intro j hu hj
  rw [upd_other _ _ (cq_post_window inv hroom (Nat.leTrans inv.headLeU hu) (Nat.ltOfLtOfLe hj inv.tailLeCqe))]
  exact inv.pub j hu hj

/-- The user's read at `uCqHead` returns the CQE posted there. -/
theorem reap_reads_next {s : St} {c : Cqe} (inv : InvCq s) (hlt : s.uCqHead < s.uCqTailSeen)
    (hread : CqRead s (slot s.cqCap s.uCqHead) c) : c = s.postAt s.uCqHead := by
  have hu : s.uCqHead < s.cqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeCqe)
  have h2 := inv.live s.uCqHead (Nat.leRefl _) hu
  rw [hread (inv.pub s.uCqHead (Nat.leRefl _) (Nat.ltOfLtOfLe hlt inv.seenLeTail))] at h2
  injection h2
  assumption

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
        rw [pre_upd_succ, inv.conserve, hov, List.append_nil, List.append_nil],
      pub := pub_post inv hroom }
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
        rw [pre_upd_succ, inv.conserve, hov, List.append_assoc]; rfl,
      pub := pub_post inv hroom }
  | kOverflow s c _ _ =>
    exact {
      capPos := inv.capPos, headLeU := inv.headLeU, uLeSeen := inv.uLeSeen,
      seenLeTail := inv.seenLeTail, tailLeCqe := inv.tailLeCqe,
      seenLeHead := inv.seenLeHead, full := inv.full, live := inv.live, log := inv.log,
      conserve := by
        show s.produced ++ [c] = pre s.postAt s.cqeTail ++ (s.overflow ++ [c])
        rw [inv.conserve, List.append_assoc],
      pub := inv.pub }
  | kLoadCqHead s h h1 h2 =>
    exact { inv with
      seenLeHead := h2,
      full := Nat.leTrans inv.full (Nat.addLeAddRight h1 s.cqCap) }
  | kCommitCq s =>
    exact { inv with
      seenLeTail := Nat.leTrans inv.seenLeTail inv.tailLeCqe,
      tailLeCqe := Nat.leRefl _,
      pub := fun _ _ _ => rfl }
  | uLoadCqTail s t h1 h2 =>
    exact { inv with uLeSeen := Nat.leTrans inv.uLeSeen h1, seenLeTail := h2 }
  | uReap s c hlt hread =>
    have hc := reap_reads_next inv hlt hread
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
      conserve := inv.conserve,
      pub := fun j hj hj2 => inv.pub j (Nat.leOfSuccLe hj) hj2 }
  | uCqAdvance s =>
    exact { inv with headLeU := Nat.leRefl _, seenLeHead := Nat.leTrans inv.seenLeHead inv.headLeU }
  | uGetSqe s e _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩
  | uLoadHead s h _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩
  | uPublish s =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩
  | kLoadTail s t _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩
  | kGetSqe s e _ _ =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩
  | kCommitSq s =>
    exact ⟨inv.1, inv.2, inv.3, inv.4, inv.5, inv.6, inv.7, inv.8, inv.9, inv.10, inv.11⟩

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

/-- The user never reaps past the published tail. -/
theorem cq_reaped_published {s : St} (r : Reach s) : s.uCqHead ≤ s.cqTail :=
  let inv := reach_invCq r
  Nat.leTrans inv.uLeSeen inv.seenLeTail

/-- Every step that reaps takes a CQE below the published tail, and it is precisely the next
posted CQE, whatever step it is. -/
theorem cq_reap_published {s s' : St} {c : Cqe} (r : Reach s) (st : Step s s')
    (hc : s'.reaped = s.reaped ++ [c]) : s.uCqHead < s.cqTail ∧ c = s.postAt s.uCqHead := by
  have inv := reach_invCq r
  cases st with
  | uReap s c0 hlt hread =>
    rw [← append_single_inj hc]
    exact ⟨Nat.ltOfLtOfLe hlt inv.seenLeTail, reap_reads_next inv hlt hread⟩
  | _ => exact (ne_append_single hc).elim

/-- No step writes the slot of a posted CQE the user has not released, `[cqHead, cqeTail)`:
the frontier is the released `cq.head`, not the user's private `uCqHead`, because the C reads a
CQE in place until it advances `cq.head`. -/
theorem cq_write_outside_released {s s' : St} (r : Reach s) (st : Step s s') {j : Nat}
    (hw : s'.cqes j ≠ s.cqes j) {i : Nat} (hh : s.cqHead ≤ i) (hi : i < s.cqeTail) :
    slot s.cqCap i ≠ j := by
  cases st with
  | kPost s c _ _ hroom =>
    intro hj
    apply hw
    show upd s.cqes (slot s.cqCap s.cqeTail) (some c) j = s.cqes j
    rw [← hj, upd_other _ _ (cq_post_window (reach_invCq r) hroom hh hi)]
  | kFlush s c cs _ hroom =>
    intro hj
    apply hw
    show upd s.cqes (slot s.cqCap s.cqeTail) (some c) j = s.cqes j
    rw [← hj, upd_other _ _ (cq_post_window (reach_invCq r) hroom hh hi)]
  | _ => exact (hw rfl).elim

end Ring
