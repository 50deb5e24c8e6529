/-
Ring.Report: the twin checks what a trace says, not only that some step was possible.  A twin
that ignored a reported user_data or index would still be sound (`step?_sound`), and would
accept traces of a C ring that reaps the wrong CQE; `step?_reports` rules that out.
-/
import Ring.Replay

namespace Ring

/-- What a trace line reports about the model, each value checked: an index is the one the
model is at, a loaded value lies in the window a load may return, a user_data read from a slot
is the one the slot holds, a completion names a request in flight. -/
def Reported (s : St) : Action → Prop
  | Action.uGetSqe i _ => i = s.sqeTail
  | Action.uLoadHead h => s.headSeen ≤ h ∧ h ≤ s.sqHead
  | Action.uPublish t => t = s.sqeTail
  | Action.kLoadTail t => s.kTailSeen ≤ t ∧ t ≤ s.sqTail
  | Action.kGetSqe i id => i = s.kHead ∧ ∃ e, s.sqes (slot s.cap s.kHead) = some e ∧ e.userData = id
  | Action.kCommitSq h => h = s.kHead
  | Action.kLoadCqHead h => s.cqHeadSeen ≤ h ∧ h ≤ s.cqHead
  | Action.kPost j id _ _ => j = s.cqeTail ∧ s.inflight.elem id = true
  | Action.kOverflow id _ _ => s.inflight.elem id = true
  | Action.kFlush j => j = s.cqeTail
  | Action.kCommitCq t => t = s.cqeTail
  | Action.uLoadCqTail t => s.uCqTailSeen ≤ t ∧ t ≤ s.cqTail
  | Action.uReap j id => j = s.uCqHead ∧ ∃ c, s.cqes (slot s.cqCap s.uCqHead) = some c ∧ c.userData = id
  | Action.uCqAdvance h => h = s.uCqHead

/-- The twin checks every value a line reports: a line whose index, loaded value or user_data
disagrees with the model is rejected. -/
theorem step?_reports (s : St) : ∀ (a : Action) (s' : St), step? s a = some s' → Reported s a
  | Action.uGetSqe i id, s', hs => by
    byCases c : i = s.sqeTail ∧ s.sqeTail < s.headSeen + s.cap
    · exact c.1
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uLoadHead h, s', hs => by
    byCases c : s.headSeen ≤ h ∧ h ≤ s.sqHead
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uPublish t, s', hs => by
    byCases c : t = s.sqeTail
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kLoadTail t, s', hs => by
    byCases c : s.kTailSeen ≤ t ∧ t ≤ s.sqTail
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kGetSqe i id, s', hs => by
    byCases c : i = s.kHead ∧ s.kHead < s.kTailSeen
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases he : s.sqes (slot s.cap s.kHead) with
      | none => rw [he] at hs'; exact (none_ne_some hs').elim
      | some e =>
        rw [he] at hs'
        byCases d : e.userData = id
        · exact ⟨c.1, e, he, d⟩
        · simp only [consumeSq, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kCommitSq h, s', hs => by
    byCases c : h = s.kHead
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kLoadCqHead h, s', hs => by
    byCases c : s.cqHeadSeen ≤ h ∧ h ≤ s.cqHead
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kPost j id res flags, s', hs => by
    byCases c : j = s.cqeTail ∧ s.inflight.elem id = true
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kOverflow id res flags, s', hs => by
    byCases c : s.inflight.elem id = true
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kFlush j, s', hs => by
    byCases c : j = s.cqeTail
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kCommitCq t, s', hs => by
    byCases c : t = s.cqeTail
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uLoadCqTail t, s', hs => by
    byCases c : s.uCqTailSeen ≤ t ∧ t ≤ s.cqTail
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uReap j id, s', hs => by
    byCases c : j = s.uCqHead ∧ s.uCqHead < s.uCqTailSeen
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases he : s.cqes (slot s.cqCap s.uCqHead) with
      | none => rw [he] at hs'; exact (none_ne_some hs').elim
      | some x =>
        rw [he] at hs'
        byCases d : x.userData = id
        · exact ⟨c.1, x, he, d⟩
        · simp only [reapCq, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uCqAdvance h, s', hs => by
    byCases c : h = s.uCqHead
    · exact c
    · have hs' := hs; simp only [step?, ifNeg c] at hs'

end Ring
