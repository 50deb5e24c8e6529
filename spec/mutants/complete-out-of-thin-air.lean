-- mutant: Ring/L2.lean
-- from: | kPost (s : St) (c : Cqe) : s.inflight.elem c.userData = true → s.overflow = [] →
-- to: | kPost (s : St) (c : Cqe) : True → s.overflow = [] →
-- plants: the kernel posts a CQE that answers no request in flight
import Ring.L2

namespace Ring

def cA : Cqe := ⟨1, 0, 0⟩

/-- A CQE is produced on a ring where nothing was ever consumed. -/
theorem counterexample : ¬ ∀ s, Reach s → s.consumed = [] → s.produced = [] := by
  intro h
  have r1 := Reach.step (Reach.init 1 1 (by decide) (by decide)) (Step.kPost (init 1 1) cA trivial rfl (by decide))
  exact absurd (congrArg List.length (h _ r1 rfl)) (by decide)

end Ring
