-- mutant: Ring/Exec.lean
-- from:   if e.userData = id then
-- to:   if True then
-- plants: the twin accepts a consumption whatever user_data the trace reports
import Ring.Exec

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩

/-- A trace line `kGetSqe 0 7` is accepted although the slot holds user_data 1. -/
theorem counterexample : ¬ ∀ (s s' : St), step? s (Action.kGetSqe s.kHead 7) = some s' →
    ∃ e, s.sqes (slot s.cap s.kHead) = some e ∧ e.userData = 7 := by
  intro h
  cases h { init 1 1 with sqes := fun _ => some eA, kTailSeen := 1 } _ rfl with
  | intro e he =>
    have h1 : some eA = some e := he.1
    injection h1 with h2
    exact absurd (h2 ▸ he.2 : eA.userData = 7) (by decide)

end Ring
