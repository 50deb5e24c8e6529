-- mutant: Ring/L2.lean
-- from: | uReap (s : St) (c : Cqe) : s.uCqHead < s.uCqTailSeen →
-- to: | uReap (s : St) (c : Cqe) : s.uCqHead < s.cqeTail →
-- plants: the user reads CQEs the kernel never published
import Ring.L2

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩
def cA : Cqe := ⟨1, 0, 0⟩
def cB : Cqe := ⟨9, 0, 0⟩

/-- The user reads the slot of a CQE not yet published, which reads as junk: it reaps `cB`
where `cA` was posted. -/
theorem counterexample : ¬ ∀ s, Reach s → s.reaped = pre s.postAt s.uCqHead := by
  intro h
  have r1 := Reach.step (Reach.init 1 1 (by decide) (by decide)) (Step.uGetSqe (init 1 1) eA (by decide))
  have r2 := Reach.step r1 (Step.uPublish _)
  have r3 := Reach.step r2 (Step.kLoadTail _ 1 (by decide) (by decide))
  have r4 := Reach.step r3 (Step.kGetSqe _ eA (by decide) (fun _ => rfl))
  have r5 := Reach.step r4 (Step.kPost _ cA rfl rfl (by decide))
  have r6 := Reach.step r5 (Step.uReap _ cB (by decide) (fun p => absurd p (by decide)))
  exact absurd (congrArg (List.map Cqe.userData) (h _ r6)) (by decide)

end Ring
