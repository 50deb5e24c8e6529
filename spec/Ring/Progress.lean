/-
Ring.Progress: no reachable state strands a submission or a completion.  From any reachable
state there is a schedule (publish, load the tail, consume) after which the kernel has consumed
every entry submitted so far, and one (commit, reap, advance, flush the overflow list) after
which the user has reaped every completion produced so far.  This is a possibility result, not fairness: liveness under a scheduler is
left to the Spin model.
-/
import Ring.Sq
import Ring.Cq

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
    have st := Step.kGetSqe s (s.subAt s.kHead) hlt (fun _ => inv.live s.kHead (Nat.leRefl _) hk)
    have h1 : (s.kHead + 1) + n = s.kTailSeen := by rw [Nat.add_right_comm, Nat.add_assoc]; exact h
    cases consume_all n _ (Reach.step r st) h1 with
    | intro t ht => exact ⟨t, Steps.head st ht.1, ht.2.1, ht.2.2.1, ht.2.2.2⟩

/-- From any reachable state, some schedule leads to a state in which the kernel has consumed
exactly everything submitted in the original state, in order. -/
theorem sq_progress {s : St} (r : Reach s) : ∃ t, Steps s t ∧ t.consumed = s.submitted := by
  have inv := reach_invSq r
  have st1 := Step.uPublish s
  have r1 := Reach.step r st1
  have st2 := Step.kLoadTail { s with sqTail := s.sqeTail, sqPub := allPub } s.sqeTail
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

theorem Steps.trans {s t u : St} (h1 : Steps s t) (h2 : Steps t u) : Steps s u := by
  induction h1 with
  | refl _ => exact h2
  | head st _ ih => exact Steps.head st (ih h2)

/-- The user can reap everything below the tail it has loaded. -/
theorem reap_all : ∀ (n : Nat) (s : St), Reach s → s.uCqHead + n = s.uCqTailSeen →
    ∃ t, Steps s t ∧ t.uCqHead = s.uCqTailSeen ∧ t.cqeTail = s.cqeTail ∧
      t.overflow = s.overflow ∧ t.produced = s.produced
  | 0, s, _, h => ⟨s, Steps.refl s, h, rfl, rfl, rfl⟩
  | n + 1, s, r, h => by
    have inv := reach_invCq r
    have hlt : s.uCqHead < s.uCqTailSeen := by
      rw [← h]; exact Nat.succLeSucc (Nat.leAddRight s.uCqHead n)
    have hu : s.uCqHead < s.cqeTail := Nat.ltOfLtOfLe hlt (Nat.leTrans inv.seenLeTail inv.tailLeCqe)
    have st := Step.uReap s (s.postAt s.uCqHead) hlt (fun _ => inv.live s.uCqHead (Nat.leRefl _) hu)
    have h1 : (s.uCqHead + 1) + n = s.uCqTailSeen := by rw [Nat.add_right_comm, Nat.add_assoc]; exact h
    cases reap_all n _ (Reach.step r st) h1 with
    | intro t ht => exact ⟨t, Steps.head st ht.1, ht.2.1, ht.2.2.1, ht.2.2.2.1, ht.2.2.2.2⟩

/-- Commit, load the tail, reap all, advance the head, let the kernel see it. -/
theorem drain {s : St} (r : Reach s) :
    ∃ t, Steps s t ∧ t.uCqHead = t.cqeTail ∧ t.cqHeadSeen = t.cqeTail ∧
      t.overflow = s.overflow ∧ t.produced = s.produced := by
  have inv := reach_invCq r
  have st1 := Step.kCommitCq s
  have r1 := Reach.step r st1
  have st2 := Step.uLoadCqTail { s with cqTail := s.cqeTail, cqPub := allPub } s.cqeTail
    (Nat.leTrans inv.seenLeTail inv.tailLeCqe) (Nat.leRefl _)
  have r2 := Reach.step r1 st2
  cases Nat.le.dest (uLe_cqe inv) with
  | intro n hn =>
    cases reap_all n _ r2 hn with
    | intro t ht =>
      have rt := steps_reach r2 ht.1
      have invt := reach_invCq rt
      have hut : t.uCqHead = t.cqeTail := by rw [ht.2.1, ht.2.2.1]
      have st3 := Step.uCqAdvance t
      have r3 := Reach.step rt st3
      have st4 := Step.kLoadCqHead { t with cqHead := t.uCqHead } t.cqeTail
        (by rw [← hut]; exact Nat.leTrans invt.seenLeHead invt.headLeU) (by rw [← hut]; exact Nat.leRefl _)
      exact ⟨_, Steps.trans (Steps.head st1 (Steps.head st2 ht.1)) (Steps.head st3 (Steps.head st4 (Steps.refl _))),
        hut, rfl, ht.2.2.2.1, ht.2.2.2.2⟩

theorem flush_all : ∀ (cs : List Cqe) (s : St), Reach s → s.overflow = cs →
    ∃ t, Steps s t ∧ t.overflow = [] ∧ t.uCqHead = t.cqeTail ∧ t.produced = s.produced
  | [], s, r, ho => by
    cases drain r with
    | intro t0 h0 => exact ⟨t0, h0.1, by rw [h0.2.2.2.1, ho], h0.2.1, h0.2.2.2.2⟩
  | c :: cs', s, r, ho => by
    cases drain r with
    | intro t0 h0 =>
      have r0 := steps_reach r h0.1
      have ho0 : t0.overflow = c :: cs' := by rw [h0.2.2.2.1, ho]
      have hroom : t0.cqeTail < t0.cqHeadSeen + t0.cqCap := by
        rw [h0.2.2.1]; exact lt_add_of_pos _ (reach_invCq r0).capPos
      have st := Step.kFlush t0 c cs' ho0 hroom
      cases flush_all cs' _ (Reach.step r0 st) rfl with
      | intro t ht =>
        exact ⟨t, Steps.trans h0.1 (Steps.head st ht.1), ht.2.1, ht.2.2.1,
          by rw [ht.2.2.2, ← h0.2.2.2.2]⟩

/-- From any reachable state, some schedule leads to a state in which the user has reaped
exactly the completions produced in the original state, in order, overflowed ones included. -/
theorem cq_progress {s : St} (r : Reach s) : ∃ t, Steps s t ∧ t.reaped = s.produced := by
  cases flush_all s.overflow s r rfl with
  | intro t ht =>
    have invt := reach_invCq (steps_reach r ht.1)
    exact ⟨t, ht.1, by rw [invt.log, ← ht.2.2.2, invt.conserve, ht.2.1, ht.2.2.1, List.append_nil]⟩

end Ring
