-- mutant: Ring/L2.lean
-- from: | kGetSqe (s : St) (e : Sqe) : s.kHead < s.kTailSeen →
-- to: | kGetSqe (s : St) (e : Sqe) : s.kHead < s.sqeTail →
-- plants: the kernel consumes entries the user wrote but never published
import Ring.L2

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩
def eB : Sqe := ⟨Op.nop, 0, 0, 0, 0, 2⟩

/-- The kernel reads the slot of an entry not yet published, which reads as junk: it consumes
`eB` where `eA` was submitted. -/
theorem counterexample : ¬ ∀ s, Reach s → s.consumed = pre s.subAt s.kHead := by
  intro h
  have r1 := Reach.step (Reach.init 1 1 (by decide) (by decide)) (Step.uGetSqe (init 1 1) eA (by decide))
  have r2 := Reach.step r1 (Step.kGetSqe _ eB (by decide) (fun p => absurd p (by decide)))
  exact absurd (congrArg (List.map Sqe.userData) (h _ r2)) (by decide)

end Ring
