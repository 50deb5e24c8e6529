/-
Ring.Refine: every L2 step is an L0 step or a stutter, so every L2 trace maps to an L0 trace and
the L0 FIFO properties hold of the concurrent protocol.
-/
import Ring.L0
import Ring.Sq
import Ring.Cq

namespace Ring

/-- The abstraction: the histories the ring has realised. -/
def α (s : St) : Abs := ⟨s.submitted, s.consumed, s.inflight, s.produced, s.reaped⟩

theorem α_init (cap cqCap : Nat) : α (init cap cqCap) = Abs.init := rfl

theorem refine_step {s s' : St} (r : Reach s) (st : Step s s') : AbsStep (α s) (α s') ∨ α s' = α s := by
  cases st with
  | uGetSqe s e h =>
    exact Or.inl (AbsStep.submit _ _ e (pre_upd_succ s.subAt s.sqeTail e) rfl rfl rfl rfl)
  | kGetSqe s e hlt hread =>
    have inv := reach_invSq r
    have he := consume_reads_next inv hlt hread
    have hk : s.kHead + 1 ≤ s.sqeTail :=
      Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
    cases pre_prefix s.subAt (s.kHead + 1) s.sqeTail hk with
    | intro rest hrest =>
      have h : s.consumed ++ e :: rest = pre s.subAt s.sqeTail := by
        rw [← hrest, inv.log, he, pre_succ, List.append_assoc]; rfl
      exact Or.inl (AbsStep.consume _ _ e rest h rfl rfl rfl rfl rfl)
  | kPost s c hin _ _ => exact Or.inl (AbsStep.complete _ _ c hin rfl rfl rfl rfl rfl)
  | kOverflow s c hin _ => exact Or.inl (AbsStep.complete _ _ c hin rfl rfl rfl rfl rfl)
  | uReap s c hlt hread =>
    have inv := reach_invCq r
    have hc := reap_reads_next inv hlt hread
    have hu : s.uCqHead + 1 ≤ s.cqeTail :=
      Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeCqe)
    cases pre_prefix s.postAt (s.uCqHead + 1) s.cqeTail hu with
    | intro rest hrest =>
      have h : s.reaped ++ c :: (rest ++ s.overflow) = s.produced := by
        rw [inv.conserve, ← hrest, inv.log, hc, pre_succ, List.append_assoc, List.append_assoc]; rfl
      exact Or.inl (AbsStep.reap _ _ c (rest ++ s.overflow) h rfl rfl rfl rfl rfl)
  | uLoadHead s h _ _ => exact Or.inr rfl
  | uPublish s => exact Or.inr rfl
  | kLoadTail s t _ _ => exact Or.inr rfl
  | kCommitSq s => exact Or.inr rfl
  | kLoadCqHead s h _ _ => exact Or.inr rfl
  | kFlush s c cs _ _ => exact Or.inr rfl
  | kCommitCq s => exact Or.inr rfl
  | uLoadCqTail s t _ _ => exact Or.inr rfl
  | uCqAdvance s => exact Or.inr rfl

/-- Refinement: the image of every reachable L2 state is reachable in L0, whose `complete` takes
only a request in flight, so no L2 path produces a CQE out of thin air. -/
theorem refine_reach {s : St} (r : Reach s) : AbsReach (α s) := by
  induction r with
  | init cap cqCap _ _ => exact AbsReach.init
  | step r0 st ih =>
    cases refine_step r0 st with
    | inl h => exact AbsReach.step ih h
    | inr h => rw [h]; exact ih

/-- The L0 FIFO properties, transported to the concurrent protocol. -/
theorem fifo {s : St} (r : Reach s) :
    Prefix s.consumed s.submitted ∧ Prefix s.reaped s.produced :=
  abs_fifo (refine_reach r)

end Ring
