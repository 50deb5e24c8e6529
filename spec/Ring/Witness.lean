/-
Ring.Witness: the ring theorems are not vacuous.  One reachable state, found by replaying a
concrete trace with the twin, has a full SQ whose indices have wrapped past the capacity (a
slot reused), submitted entries not yet published (their slot's status cleared, so a read of it
returns junk), and a completion waiting on the overflow list behind a full CQ.
-/
import Ring.Replay

namespace Ring

/-- A property the twin can decide and that reads no stripped history. -/
theorem witness_of (P : St → Prop) [∀ t, Decidable (P t)] (hP : ∀ t, P (strip t) = P t)
    (as : List Action)
    (h : (match replayFast (init 2 1) as 0 with
          | Sum.inr u => decide (P u)
          | Sum.inl _ => false) = true) : ∃ t, Reach t ∧ P t := by
  cases hr : replayFast (init 2 1) as 0 with
  | inl x => rw [hr] at h; exact Bool.noConfusion h
  | inr u =>
    rw [hr] at h
    cases replayFast_reach 2 1 (by decide) (by decide) as u hr with
    | intro t ht => exact ⟨t, ht.1, by rw [← hP, ht.2]; exact ofDecideEqTrue h⟩

/-- SQ of 2, CQ of 1: three requests through the SQ (index 2 reuses slot 0), two more taken and
left unpublished, the first CQE posted and the second overflowed behind it. -/
def witnessTrace : List Action :=
  [Action.uGetSqe 0 1, Action.uGetSqe 1 2, Action.uPublish 2, Action.kLoadTail 2,
   Action.kGetSqe 0 1, Action.kGetSqe 1 2, Action.kCommitSq 2, Action.uLoadHead 2,
   Action.uGetSqe 2 3, Action.uPublish 3, Action.kLoadTail 3, Action.kGetSqe 2 3,
   Action.kCommitSq 3, Action.uLoadHead 3, Action.uGetSqe 3 4, Action.uGetSqe 4 5,
   Action.kLoadCqHead 0, Action.kPost 0 1 0 0, Action.kOverflow 2 0 0]

abbrev Witnessed (t : St) : Prop :=
  t.sqeTail = t.sqHead + t.cap ∧ t.cap < t.sqeTail ∧ t.sqTail < t.sqeTail ∧
    t.sqPub (slot t.cap t.sqTail) = false ∧
    t.cqeTail = t.cqHeadSeen + t.cqCap ∧ 0 < t.overflow.length

/-- A reachable state with a full SQ, wrapped indices, an unpublished slot and a non-empty
overflow list. -/
theorem witness_full_wrap_overflow : ∃ t, Reach t ∧ Witnessed t :=
  witness_of Witnessed (fun _ => rfl) witnessTrace rfl

end Ring
