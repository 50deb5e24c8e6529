-- mutant: Ring/L2.lean
-- from: | kCommitSq (s : St) : Step s { s with sqHead := s.kHead }
-- to: | kCommitSq (s : St) : Step s { s with sqHead := s.kHead + 1 }
-- plants: the kernel releases a slot it has not consumed
import Ring.L2

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩
def eB : Sqe := ⟨Op.nop, 0, 0, 0, 0, 2⟩

/-- The released slot is written again before the kernel reads it: the kernel consumes `eB`
where `eA` was submitted first. -/
theorem counterexample : ¬ ∀ s, Reach s → s.consumed = pre s.subAt s.kHead := by
  intro h
  have r1 := Reach.step (Reach.init 1 1 (by decide) (by decide)) (Step.uGetSqe (init 1 1) eA (by decide))
  have r2 := Reach.step r1 (Step.kCommitSq _)
  have r3 := Reach.step r2 (Step.uLoadHead _ 1 (by decide) (by decide))
  have r4 := Reach.step r3 (Step.uGetSqe _ eB (by decide))
  have r5 := Reach.step r4 (Step.uPublish _)
  have r6 := Reach.step r5 (Step.kLoadTail _ 2 (by decide) (by decide))
  have r7 := Reach.step r6 (Step.kGetSqe _ eB (by decide) (fun _ => rfl))
  exact absurd (congrArg (List.map Sqe.userData) (h _ r7)) (by decide)

end Ring
