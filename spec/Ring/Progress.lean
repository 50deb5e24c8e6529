/-
Ring.Progress: no reachable state strands a submission.  From any reachable state there is a
schedule (publish, load the tail, consume) after which the kernel has consumed every entry
submitted so far.  This is a possibility result, not fairness: liveness under a scheduler is
left to the Spin model.
-/
import Ring.Sq

namespace Ring

inductive Steps : St → St → Prop
  | refl (s : St) : Steps s s
  | head {s t u : St} : Step s t → Steps t u → Steps s u

theorem steps_reach {s t : St} (r : Reach s) (h : Steps s t) : Reach t := by
  induction h with
  | refl s => exact r
  | head st _ ih => exact ih (Reach.step r st)

/-- The kernel can consume everything below the tail it has loaded. -/
theorem consume_all : ∀ (n : Nat) (s : St), Reach s → s.kHead + n = s.kTailSeen →
    ∃ t, Steps s t ∧ t.kHead = s.kTailSeen ∧ t.subAt = s.subAt ∧ t.sqeTail = s.sqeTail
  | 0, s, _, h => ⟨s, Steps.refl s, h, rfl, rfl⟩
  | n + 1, s, r, h => by
    have inv := reach_invSq r
    have hlt : s.kHead < s.kTailSeen := by
      rw [← h]; exact Nat.succLeSucc (Nat.leAddRight s.kHead n)
    have hk : s.kHead < s.sqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
    have st := Step.kGetSqe s (s.subAt s.kHead) hlt (inv.live s.kHead (Nat.leRefl _) hk)
    have h1 : (s.kHead + 1) + n = s.kTailSeen := by rw [Nat.add_right_comm, Nat.add_assoc]; exact h
    cases consume_all n _ (Reach.step r st) h1 with
    | intro t ht => exact ⟨t, Steps.head st ht.1, ht.2.1, ht.2.2.1, ht.2.2.2⟩

/-- From any reachable state, some schedule leads to a state in which the kernel has consumed
exactly everything submitted in the original state, in order. -/
theorem sq_progress {s : St} (r : Reach s) : ∃ t, Steps s t ∧ t.consumed = s.submitted := by
  have inv := reach_invSq r
  have st1 := Step.uPublish s
  have r1 := Reach.step r st1
  have st2 := Step.kLoadTail { s with sqTail := s.sqeTail } s.sqeTail
    (Nat.leTrans inv.seenLeTail inv.tailLeSqe) (Nat.leRefl _)
  have r2 := Reach.step r1 st2
  have hle : s.kHead ≤ s.sqeTail := Nat.leTrans inv.kLeSeen (Nat.leTrans inv.seenLeTail inv.tailLeSqe)
  cases Nat.le.dest hle with
  | intro n hn =>
    cases consume_all n _ r2 hn with
    | intro t ht =>
      have rt := steps_reach r2 ht.1
      exact ⟨t, Steps.head st1 (Steps.head st2 ht.1), by
        rw [(sq_consumed_exactly rt).1, ht.2.1, ht.2.2.1]; rfl⟩

end Ring
