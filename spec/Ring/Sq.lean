/-
Ring.Sq: the submission-queue invariant and its theorems.
-/
import Ring.L2

namespace Ring

structure InvSq (s : St) : Prop where
  capPos : 0 < s.cap
  headLeK : s.sqHead ≤ s.kHead
  kLeSeen : s.kHead ≤ s.kTailSeen
  seenLeTail : s.kTailSeen ≤ s.sqTail
  tailLeSqe : s.sqTail ≤ s.sqeTail
  seenLeHead : s.headSeen ≤ s.sqHead
  full : s.sqeTail ≤ s.headSeen + s.cap
  /-- every handed-out, unconsumed index still holds the entry written for it -/
  live : ∀ i, s.kHead ≤ i → i < s.sqeTail → s.sqes (slot s.cap i) = some (s.subAt i)
  /-- the kernel consumed exactly the first `kHead` submissions, in order -/
  log : s.consumed = pre s.subAt s.kHead

theorem invSq_init (cap cqCap : Nat) (h : 0 < cap) : InvSq (init cap cqCap) where
  capPos := h
  headLeK := Nat.leRefl 0
  kLeSeen := Nat.leRefl 0
  seenLeTail := Nat.leRefl 0
  tailLeSqe := Nat.leRefl 0
  seenLeHead := Nat.leRefl 0
  full := Nat.zeroLe _
  live := fun i _ hi => absurd hi (Nat.notLtZero i)
  log := rfl

theorem invSq_step {s s' : St} (inv : InvSq s) (st : Step s s') : InvSq s' := by
  cases st with
  | uGetSqe s e hfull =>
    exact {
      capPos := inv.capPos, headLeK := inv.headLeK, kLeSeen := inv.kLeSeen,
      seenLeTail := inv.seenLeTail,
      tailLeSqe := Nat.leStep inv.tailLeSqe,
      seenLeHead := inv.seenLeHead,
      full := hfull,
      live := by
        intro i hk hi
        show upd s.sqes (slot s.cap s.sqeTail) (some e) (slot s.cap i) = some (upd s.subAt s.sqeTail e i)
        cases Nat.eqOrLtOfLe (Nat.leOfLtSucc hi) with
        | inl hEq => rw [hEq, upd_same, upd_same]
        | inr hLt =>
          have hne : i ≠ s.sqeTail := fun e => by rw [e] at hLt; exact lt_irrefl _ hLt
          have hwin : s.sqeTail < i + s.cap :=
            Nat.ltOfLtOfLe hfull (Nat.addLeAddRight
              (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeK hk)) s.cap)
          have hslot : slot s.cap i ≠ slot s.cap s.sqeTail :=
            fun e => slot_ne inv.capPos hLt hwin e.symm
          rw [upd_other _ _ hslot, upd_other _ _ hne]
          exact inv.live i hk hLt,
      log := by
        show s.consumed = pre (upd s.subAt s.sqeTail e) s.kHead
        rw [pre_upd _ _ _ _ (Nat.leTrans inv.kLeSeen (Nat.leTrans inv.seenLeTail inv.tailLeSqe))]
        exact inv.log }
  | uLoadHead s h h1 h2 =>
    exact { inv with
      seenLeHead := h2,
      full := Nat.leTrans inv.full (Nat.addLeAddRight h1 s.cap) }
  | uPublish s =>
    exact { inv with
      seenLeTail := Nat.leTrans inv.seenLeTail inv.tailLeSqe,
      tailLeSqe := Nat.leRefl _ }
  | kLoadTail s t h1 h2 =>
    exact { inv with kLeSeen := Nat.leTrans inv.kLeSeen h1, seenLeTail := h2 }
  | kGetSqe s e hlt hslot =>
    have hk : s.kHead < s.sqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
    have he : e = s.subAt s.kHead := by
      have h2 := inv.live s.kHead (Nat.leRefl _) hk
      rw [hslot] at h2
      injection h2
      assumption
    exact {
      capPos := inv.capPos,
      headLeK := Nat.leStep inv.headLeK,
      kLeSeen := hlt,
      seenLeTail := inv.seenLeTail, tailLeSqe := inv.tailLeSqe, seenLeHead := inv.seenLeHead,
      full := inv.full,
      live := fun i hi hi2 => inv.live i (Nat.leOfSuccLe hi) hi2,
      log := by
        show s.consumed ++ [e] = pre s.subAt (s.kHead + 1)
        rw [inv.log, he]; rfl }
  | kCommitSq s =>
    exact { inv with headLeK := Nat.leRefl _, seenLeHead := Nat.leTrans inv.seenLeHead inv.headLeK }
  | kLoadCqHead s h _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | kPost s c _ _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | kOverflow s c _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | kFlush s c cs _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | kCommitCq s =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | uLoadCqTail s t _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | uReap s c _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩
  | uCqAdvance s =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.log⟩

theorem reach_invSq {s : St} (r : Reach s) : InvSq s := by
  induction r with
  | init cap cqCap h _ => exact invSq_init cap cqCap h
  | step _ st ih => exact invSq_step ih st

/-! ### SQ theorems -/

/-- In every reachable state `0 ≤ sqTail - sqHead ≤ cap` (stated without subtraction). -/
theorem sq_bounds {s : St} (r : Reach s) : s.sqHead ≤ s.sqTail ∧ s.sqTail ≤ s.sqHead + s.cap :=
  let inv := reach_invSq r
  ⟨Nat.leTrans inv.headLeK (Nat.leTrans inv.kLeSeen inv.seenLeTail),
   Nat.leTrans inv.tailLeSqe (Nat.leTrans inv.full (Nat.addLeAddRight inv.seenLeHead s.cap))⟩

/-- The kernel consumed exactly the first `kHead` submitted entries, each once, in submission
order, and never more than were submitted. -/
theorem sq_consumed_exactly {s : St} (r : Reach s) :
    s.consumed = pre s.subAt s.kHead ∧ s.kHead ≤ s.sqeTail ∧ Prefix s.consumed s.submitted :=
  let inv := reach_invSq r
  have hk : s.kHead ≤ s.sqeTail := Nat.leTrans inv.kLeSeen (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
  ⟨inv.log, hk, by rw [inv.log]; exact pre_prefix s.subAt s.kHead s.sqeTail hk⟩

/-- The kernel has consumed exactly `kHead` entries. -/
theorem sq_consumed_count {s : St} (r : Reach s) : s.consumed.length = s.kHead := by
  rw [(reach_invSq r).log]; exact length_pre _ _

/-- A consumption step takes exactly the next submitted entry. -/
theorem sq_consume_next {s : St} {e : Sqe} (r : Reach s) (hlt : s.kHead < s.kTailSeen)
    (hslot : s.sqes (slot s.cap s.kHead) = some e) : e = s.subAt s.kHead := by
  have inv := reach_invSq r
  have hk : s.kHead < s.sqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
  have h2 := inv.live s.kHead (Nat.leRefl _) hk
  rw [hslot] at h2
  injection h2
  assumption

/-- No unconsumed slot is overwritten: whenever the user may take a slot, that slot differs from
the slot of every submitted entry the kernel has not consumed yet. -/
theorem sq_no_overwrite {s : St} (r : Reach s) (hfree : s.sqeTail < s.headSeen + s.cap)
    {i : Nat} (hk : s.kHead ≤ i) (hi : i < s.sqeTail) :
    slot s.cap s.sqeTail ≠ slot s.cap i := by
  have inv := reach_invSq r
  have hwin : s.sqeTail < i + s.cap :=
    Nat.ltOfLtOfLe hfree (Nat.addLeAddRight (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeK hk)) s.cap)
  exact slot_ne inv.capPos hi hwin

/-- Every unconsumed submitted entry is still intact in its slot. -/
theorem sq_live {s : St} (r : Reach s) {i : Nat} (hk : s.kHead ≤ i) (hi : i < s.sqeTail) :
    s.sqes (slot s.cap i) = some (s.subAt i) :=
  (reach_invSq r).live i hk hi

end Ring
