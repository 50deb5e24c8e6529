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
  /-- every published, unconsumed index's slot holds a released write -/
  pub : ∀ i, s.kHead ≤ i → i < s.sqTail → s.sqPub (slot s.cap i) = true
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
  pub := fun i _ hi => absurd hi (Nat.notLtZero i)
  log := rfl

/-- The kernel's read at `kHead` returns the entry submitted there: the slot is below the tail it
loaded, so it holds a released write of that entry. -/
theorem consume_reads_next {s : St} {e : Sqe} (inv : InvSq s) (hlt : s.kHead < s.kTailSeen)
    (hread : SqRead s (slot s.cap s.kHead) e) : e = s.subAt s.kHead := by
  have hk : s.kHead < s.sqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
  have h2 := inv.live s.kHead (Nat.leRefl _) hk
  rw [hread (inv.pub s.kHead (Nat.leRefl _) (Nat.ltOfLtOfLe hlt inv.seenLeTail))] at h2
  injection h2
  assumption

/-- The slot the user may take is not the slot of any index from the released head on. -/
theorem sq_take_window {s : St} (inv : InvSq s) (hfull : s.sqeTail < s.headSeen + s.cap)
    {i : Nat} (hh : s.sqHead ≤ i) (hi : i < s.sqeTail) : slot s.cap i ≠ slot s.cap s.sqeTail :=
  have hwin : s.sqeTail < i + s.cap :=
    Nat.ltOfLtOfLe hfull (Nat.addLeAddRight (Nat.leTrans inv.seenLeHead hh) s.cap)
  fun e => slot_ne inv.capPos hi hwin e.symm

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
          rw [upd_other _ _ (sq_take_window inv hfull (Nat.leTrans inv.headLeK hk) hLt), upd_other _ _ hne]
          exact inv.live i hk hLt,
      pub := by
        intro i hk hi
        show upd s.sqPub (slot s.cap s.sqeTail) false (slot s.cap i) = true
        have hLt : i < s.sqeTail := Nat.ltOfLtOfLe hi inv.tailLeSqe
        rw [upd_other _ _ (sq_take_window inv hfull (Nat.leTrans inv.headLeK hk) hLt)]
        exact inv.pub i hk hi,
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
      tailLeSqe := Nat.leRefl _,
      pub := fun _ _ _ => rfl }
  | kLoadTail s t h1 h2 =>
    exact { inv with kLeSeen := Nat.leTrans inv.kLeSeen h1, seenLeTail := h2 }
  | kGetSqe s e hlt hread =>
    have he := consume_reads_next inv hlt hread
    exact {
      capPos := inv.capPos,
      headLeK := Nat.leStep inv.headLeK,
      kLeSeen := hlt,
      seenLeTail := inv.seenLeTail, tailLeSqe := inv.tailLeSqe, seenLeHead := inv.seenLeHead,
      full := inv.full,
      live := fun i hi hi2 => inv.live i (Nat.leOfSuccLe hi) hi2,
      pub := fun i hi hi2 => inv.pub i (Nat.leOfSuccLe hi) hi2,
      log := by
        show s.consumed ++ [e] = pre s.subAt (s.kHead + 1)
        rw [inv.log, he]; rfl }
  | kCommitSq s =>
    exact { inv with headLeK := Nat.leRefl _, seenLeHead := Nat.leTrans inv.seenLeHead inv.headLeK }
  | kLoadCqHead s h _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | kPost s c _ _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | kOverflow s c _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | kFlush s c cs _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | kCommitCq s =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | uLoadCqTail s t _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | uReap s c _ _ =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩
  | uCqAdvance s =>
    exact ⟨inv.capPos, inv.headLeK, inv.kLeSeen, inv.seenLeTail, inv.tailLeSqe, inv.seenLeHead, inv.full, inv.live, inv.pub, inv.log⟩

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

/-- The kernel never consumes past the published tail. -/
theorem sq_consumed_published {s : St} (r : Reach s) : s.kHead ≤ s.sqTail :=
  let inv := reach_invSq r
  Nat.leTrans inv.kLeSeen inv.seenLeTail

/-- Every step that consumes takes an entry below the published tail, and it is precisely the
next submitted entry.  Whatever step it is: the statement is over `Step`, not over a guard. -/
theorem sq_consume_published {s s' : St} {e : Sqe} (r : Reach s) (st : Step s s')
    (hc : s'.consumed = s.consumed ++ [e]) : s.kHead < s.sqTail ∧ e = s.subAt s.kHead := by
  have inv := reach_invSq r
  cases st with
  | kGetSqe s e0 hlt hread =>
    rw [← append_single_inj hc]
    exact ⟨Nat.ltOfLtOfLe hlt inv.seenLeTail, consume_reads_next inv hlt hread⟩
  | _ => exact (ne_append_single hc).elim

/-- No step writes the slot of a submitted entry the kernel has not released, `[sqHead,
sqeTail)`: the frontier is the released `sq.head`, not the kernel's private `kHead`, because
the kernel reads an SQE's fields until it commits `sq.head`. -/
theorem sq_write_outside_released {s s' : St} (r : Reach s) (st : Step s s') {j : Nat}
    (hw : s'.sqes j ≠ s.sqes j) {i : Nat} (hh : s.sqHead ≤ i) (hi : i < s.sqeTail) :
    slot s.cap i ≠ j := by
  cases st with
  | uGetSqe s e hfull =>
    intro hj
    apply hw
    show upd s.sqes (slot s.cap s.sqeTail) (some e) j = s.sqes j
    rw [← hj, upd_other _ _ (sq_take_window (reach_invSq r) hfull hh hi)]
  | _ => exact (hw rfl).elim

/-- Every unconsumed submitted entry is still intact in its slot. -/
theorem sq_live {s : St} (r : Reach s) {i : Nat} (hk : s.kHead ≤ i) (hi : i < s.sqeTail) :
    s.sqes (slot s.cap i) = some (s.subAt i) :=
  (reach_invSq r).live i hk hi

end Ring
