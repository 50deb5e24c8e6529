-- mutant: Ring/L2.lean
-- from: | uGetSqe (s : St) (e : Sqe) : s.sqeTail < s.headSeen + s.cap →
-- to: | uGetSqe (s : St) (e : Sqe) : s.sqeTail < s.kHead + s.cap →
-- plants: the user reuses a slot the kernel has taken but not released (frontier kHead, not sq.head)
import Ring.L2

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩
def eB : Sqe := ⟨Op.nop, 0, 0, 0, 0, 2⟩

/-- The user writes slot 0 while its entry, consumed, is not yet released by `sq.head`. -/
theorem counterexample : ¬ ∀ s s', Reach s → Step s s' → ∀ j, s'.sqes j ≠ s.sqes j →
    ∀ i, s.sqHead ≤ i → i < s.sqeTail → slot s.cap i ≠ j := by
  intro h
  have r1 := Reach.step (Reach.init 1 1 (by decide) (by decide)) (Step.uGetSqe (init 1 1) eA (by decide))
  have r2 := Reach.step r1 (Step.uPublish _)
  have r3 := Reach.step r2 (Step.kLoadTail _ 1 (by decide) (by decide))
  have r4 := Reach.step r3 (Step.kGetSqe _ eA (by decide) (fun _ => rfl))
  exact h _ _ r4 (Step.uGetSqe _ eB (by decide)) 0 (fun e => absurd (congrArg (Option.map Sqe.userData) e) (by decide)) 0
    (by decide) (by decide) rfl

end Ring
