/-
Ring.Complete: the twin rejects nothing the model allows.  `step?` accepts every `Step` whose
SQE/CQE a trace can describe (an SQE is known by its user_data only, a CQE by user_data,
result and flags), with the action that step is traced as.  With `step?_sound` this makes the
conformance checker a decision procedure for the model on such traces.
-/
import Ring.Exec
import Ring.Sq
import Ring.Cq

namespace Ring

theorem complete_uGetSqe (s : St) (id : Nat) (h : s.sqeTail < s.headSeen + s.cap) :
    step? s (Action.uGetSqe s.sqeTail id) =
      some { s with sqes := upd s.sqes (slot s.cap s.sqeTail) (some (Sqe.ofUserData id)),
                    sqPub := upd s.sqPub (slot s.cap s.sqeTail) false,
                    subAt := upd s.subAt s.sqeTail (Sqe.ofUserData id), sqeTail := s.sqeTail + 1 } := by
  simp only [step?, ifPos (And.intro rfl h)]; try rfl

theorem complete_uLoadHead (s : St) (h : Nat) (h1 : s.headSeen ≤ h) (h2 : h ≤ s.sqHead) :
    step? s (Action.uLoadHead h) = some { s with headSeen := h } := by
  simp only [step?, ifPos (And.intro h1 h2)]; try rfl

theorem complete_uPublish (s : St) :
    step? s (Action.uPublish s.sqeTail) = some { s with sqTail := s.sqeTail, sqPub := allPub } := by
  simp only [step?, ifPos (rfl : s.sqeTail = s.sqeTail)]; try rfl

theorem complete_kLoadTail (s : St) (t : Nat) (h1 : s.kTailSeen ≤ t) (h2 : t ≤ s.sqTail) :
    step? s (Action.kLoadTail t) = some { s with kTailSeen := t } := by
  simp only [step?, ifPos (And.intro h1 h2)]; try rfl

theorem complete_kGetSqe (s : St) (e : Sqe) (h1 : s.kHead < s.kTailSeen)
    (h2 : s.sqes (slot s.cap s.kHead) = some e) :
    step? s (Action.kGetSqe s.kHead e.userData) =
      some { s with kHead := s.kHead + 1, inflight := s.inflight ++ [e.userData],
                    consumed := s.consumed ++ [e] } := by
  simp only [step?, ifPos (And.intro rfl h1), h2, consumeSq, ifPos (rfl : e.userData = e.userData)]; try rfl

theorem complete_kCommitSq (s : St) :
    step? s (Action.kCommitSq s.kHead) = some { s with sqHead := s.kHead } := by
  simp only [step?, ifPos (rfl : s.kHead = s.kHead)]; try rfl

theorem complete_kLoadCqHead (s : St) (h : Nat) (h1 : s.cqHeadSeen ≤ h) (h2 : h ≤ s.cqHead) :
    step? s (Action.kLoadCqHead h) = some { s with cqHeadSeen := h } := by
  simp only [step?, ifPos (And.intro h1 h2)]; try rfl

theorem complete_kPost (s : St) (id : Nat) (res : Int) (flags : Nat) (h1 : s.inflight.elem id = true)
    (h2 : s.overflow = []) (h3 : s.cqeTail < s.cqHeadSeen + s.cqCap) :
    step? s (Action.kPost s.cqeTail id res flags) = some (post s (Cqe.ofResult id res flags)) := by
  simp only [step?, ifPos (And.intro rfl h1), h2, postIfRoom, ifPos h3]; try rfl

theorem complete_kOverflow (s : St) (id : Nat) (res : Int) (flags : Nat) (h1 : s.inflight.elem id = true)
    (h2 : s.overflow ≠ [] ∨ s.cqHeadSeen + s.cqCap ≤ s.cqeTail) :
    step? s (Action.kOverflow id res flags) = some (overflowCq s (Cqe.ofResult id res flags)) := by
  cases ho : s.overflow with
  | nil =>
    have h3 : s.cqHeadSeen + s.cqCap ≤ s.cqeTail := by
      cases h2 with
      | inl h => exact absurd ho h
      | inr h => exact h
    simp only [step?, ifPos h1, ho, overflowIfDue, ifPos h3]; try rfl
  | cons x xs => simp only [step?, ifPos h1, ho, overflowIfDue]; try rfl

theorem complete_kFlush (s : St) (c : Cqe) (cs : List Cqe) (h1 : s.overflow = c :: cs)
    (h2 : s.cqeTail < s.cqHeadSeen + s.cqCap) :
    step? s (Action.kFlush s.cqeTail) = some (flush s c cs) := by
  simp only [step?, ifPos (rfl : s.cqeTail = s.cqeTail), h1, flushIfRoom, ifPos h2]; try rfl

theorem complete_kCommitCq (s : St) :
    step? s (Action.kCommitCq s.cqeTail) = some { s with cqTail := s.cqeTail, cqPub := allPub } := by
  simp only [step?, ifPos (rfl : s.cqeTail = s.cqeTail)]; try rfl

theorem complete_uLoadCqTail (s : St) (t : Nat) (h1 : s.uCqTailSeen ≤ t) (h2 : t ≤ s.cqTail) :
    step? s (Action.uLoadCqTail t) = some { s with uCqTailSeen := t } := by
  simp only [step?, ifPos (And.intro h1 h2)]; try rfl

theorem complete_uReap (s : St) (c : Cqe) (h1 : s.uCqHead < s.uCqTailSeen)
    (h2 : s.cqes (slot s.cqCap s.uCqHead) = some c) :
    step? s (Action.uReap s.uCqHead c.userData) =
      some { s with uCqHead := s.uCqHead + 1, reaped := s.reaped ++ [c] } := by
  simp only [step?, ifPos (And.intro rfl h1), h2, reapCq, ifPos (rfl : c.userData = c.userData)]; try rfl

theorem complete_uCqAdvance (s : St) :
    step? s (Action.uCqAdvance s.uCqHead) = some { s with cqHead := s.uCqHead } := by
  simp only [step?, ifPos (rfl : s.uCqHead = s.uCqHead)]; try rfl
 
/-- Completeness quantified over steps: from a reachable state, every step a trace can describe
(`hd`: an entry it hands out is a NOP known by its user_data, all a trace gives of an SQE) is
accepted by the twin with some action, landing in the same state.  The reachable state is what
rules out a junk read: the kernel and the user read only released slots. -/
theorem twin_complete {s s' : St} (r : Reach s) (st : Step s s')
    (hd : s'.sqeTail = s.sqeTail + 1 →
      s'.subAt s.sqeTail = Sqe.ofUserData (s'.subAt s.sqeTail).userData) :
    ∃ a, step? s a = some s' := by
  cases st with
  | uGetSqe s e h =>
    have h1 : upd s.subAt s.sqeTail e s.sqeTail =
        Sqe.ofUserData (upd s.subAt s.sqeTail e s.sqeTail).userData := hd rfl
    rw [upd_same] at h1
    have he : e = Sqe.ofUserData e.userData := h1
    exact ⟨_, by rw [complete_uGetSqe s e.userData h, ← he]⟩
  | uLoadHead s h h1 h2 => exact ⟨_, complete_uLoadHead s h h1 h2⟩
  | uPublish s => exact ⟨_, complete_uPublish s⟩
  | kLoadTail s t h1 h2 => exact ⟨_, complete_kLoadTail s t h1 h2⟩
  | kGetSqe s e hlt hread =>
    have inv := reach_invSq r
    exact ⟨_, complete_kGetSqe s e hlt
      (hread (inv.pub s.kHead (Nat.leRefl _) (Nat.ltOfLtOfLe hlt inv.seenLeTail)))⟩
  | kCommitSq s => exact ⟨_, complete_kCommitSq s⟩
  | kLoadCqHead s h h1 h2 => exact ⟨_, complete_kLoadCqHead s h h1 h2⟩
  | kPost s c hin hov hroom =>
    cases c with
    | mk u res fl => exact ⟨_, complete_kPost s u res fl hin hov hroom⟩
  | kOverflow s c hin hdue =>
    cases c with
    | mk u res fl => exact ⟨_, complete_kOverflow s u res fl hin hdue⟩
  | kFlush s c cs h1 h2 => exact ⟨_, complete_kFlush s c cs h1 h2⟩
  | kCommitCq s => exact ⟨_, complete_kCommitCq s⟩
  | uLoadCqTail s t h1 h2 => exact ⟨_, complete_uLoadCqTail s t h1 h2⟩
  | uReap s c hlt hread =>
    have inv := reach_invCq r
    exact ⟨_, complete_uReap s c hlt
      (hread (inv.pub s.uCqHead (Nat.leRefl _) (Nat.ltOfLtOfLe hlt inv.seenLeTail)))⟩
  | uCqAdvance s => exact ⟨_, complete_uCqAdvance s⟩

end Ring
