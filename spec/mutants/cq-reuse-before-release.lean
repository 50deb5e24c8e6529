-- mutant: Ring/L2.lean
-- from:       s.cqeTail < s.cqHeadSeen + s.cqCap →\n      Step s { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),\n                      cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,\n                      postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,\n                      inflight
-- to:       s.cqeTail < s.uCqHead + s.cqCap →\n      Step s { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),\n                      cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,\n                      postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,\n                      inflight
-- plants: the kernel reuses a CQ slot the user has reaped but not released (frontier uCqHead, not cq.head)
import Ring.L2

namespace Ring

def eA : Sqe := ⟨Op.nop, 0, 0, 0, 0, 1⟩
def eB : Sqe := ⟨Op.nop, 0, 0, 0, 0, 2⟩
def cA : Cqe := ⟨1, 0, 0⟩
def cB : Cqe := ⟨2, 0, 0⟩

/-- The kernel posts into slot 0 while the user, having read the CQE there, has not advanced
`cq.head` past it. -/
theorem counterexample : ¬ ∀ s s', Reach s → Step s s' → ∀ j, s'.cqes j ≠ s.cqes j →
    ∀ i, s.cqHead ≤ i → i < s.cqeTail → slot s.cqCap i ≠ j := by
  intro h
  have r1 := Reach.step (Reach.init 2 1 (by decide) (by decide)) (Step.uGetSqe (init 2 1) eA (by decide))
  have r2 := Reach.step r1 (Step.uGetSqe _ eB (by decide))
  have r3 := Reach.step r2 (Step.uPublish _)
  have r4 := Reach.step r3 (Step.kLoadTail _ 2 (by decide) (by decide))
  have r5 := Reach.step r4 (Step.kGetSqe _ eA (by decide) (fun _ => rfl))
  have r6 := Reach.step r5 (Step.kGetSqe _ eB (by decide) (fun _ => rfl))
  have r7 := Reach.step r6 (Step.kPost _ cA rfl rfl (by decide))
  have r8 := Reach.step r7 (Step.kCommitCq _)
  have r9 := Reach.step r8 (Step.uLoadCqTail _ 1 (by decide) (by decide))
  have r10 := Reach.step r9 (Step.uReap _ cA (by decide) (fun _ => rfl))
  exact h _ _ r10 (Step.kPost _ cB rfl rfl (by decide)) 0
    (fun e => absurd (congrArg (Option.map Cqe.userData) e) (by decide)) 0 (by decide) (by decide) rfl

end Ring
