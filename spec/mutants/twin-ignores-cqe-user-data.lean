-- mutant: Ring/Exec.lean
-- from:   if c.userData = id then
-- to:   if True then
-- plants: the twin accepts a reap whatever user_data the trace reports
import Ring.Exec

namespace Ring

def cA : Cqe := ⟨1, 0, 0⟩

/-- A trace line `uReap 0 7` is accepted although the slot holds user_data 1. -/
theorem counterexample : ¬ ∀ (s s' : St), step? s (Action.uReap s.uCqHead 7) = some s' →
    ∃ c, s.cqes (slot s.cqCap s.uCqHead) = some c ∧ c.userData = 7 := by
  intro h
  cases h { init 1 1 with cqes := fun _ => some cA, uCqTailSeen := 1 } _ rfl with
  | intro c hc =>
    have h1 : some cA = some c := hc.1
    injection h1 with h2
    exact absurd (h2 ▸ hc.2 : cA.userData = 7) (by decide)

end Ring
