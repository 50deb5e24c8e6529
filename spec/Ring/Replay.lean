/-
Ring.Replay: the twin is sound.  `step?_sound` shows every step it accepts is a `Step`, so a
trace it replays, in any of its three loops, is a path of the L2 model.
-/
import Ring.Exec

namespace Ring

theorem some_inj {α : Type} {a b : α} (h : some a = some b) : a = b := by injection h; assumption

theorem none_ne_some {α : Type} {a : α} (h : none = some a) : False := by injection h

/-- Soundness: whatever `step?` accepts is a step of the model. -/
theorem step?_sound (s : St) : ∀ (a : Action) (s' : St), step? s a = some s' → Step s s'
  | Action.uGetSqe i id, s', hs => by
    byCases c : i = s.sqeTail ∧ s.sqeTail < s.headSeen + s.cap
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.uGetSqe s _ c.2
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uLoadHead h, s', hs => by
    byCases c : s.headSeen ≤ h ∧ h ≤ s.sqHead
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.uLoadHead s h c.1 c.2
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uPublish t, s', hs => by
    byCases c : t = s.sqeTail
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.uPublish s
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kLoadTail t, s', hs => by
    byCases c : s.kTailSeen ≤ t ∧ t ≤ s.sqTail
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.kLoadTail s t c.1 c.2
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kGetSqe i id, s', hs => by
    byCases c : i = s.kHead ∧ s.kHead < s.kTailSeen
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases he : s.sqes (slot s.cap s.kHead) with
      | none => rw [he] at hs'; exact (none_ne_some hs').elim
      | some e =>
        rw [he] at hs'
        byCases d : e.userData = id
        · simp only [consumeSq, ifPos d] at hs'
          rw [← some_inj hs']; exact Step.kGetSqe s e c.2 (fun _ => he)
        · simp only [consumeSq, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kCommitSq h, s', hs => by
    byCases c : h = s.kHead
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.kCommitSq s
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kLoadCqHead h, s', hs => by
    byCases c : s.cqHeadSeen ≤ h ∧ h ≤ s.cqHead
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.kLoadCqHead s h c.1 c.2
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kPost j id res flags, s', hs => by
    byCases c : j = s.cqeTail ∧ s.inflight.elem id = true
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases ho : s.overflow with
      | cons x xs => rw [ho] at hs'; exact (none_ne_some hs').elim
      | nil =>
        rw [ho] at hs'
        byCases d : s.cqeTail < s.cqHeadSeen + s.cqCap
        · simp only [postIfRoom, ifPos d] at hs'
          rw [← some_inj hs']; exact Step.kPost s (Cqe.ofResult id res flags) c.2 ho d
        · simp only [postIfRoom, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kOverflow id res flags, s', hs => by
    byCases c : s.inflight.elem id = true
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases ho : s.overflow with
      | cons x xs =>
        rw [ho] at hs'; simp only [overflowIfDue] at hs'
        rw [← some_inj hs']
        exact Step.kOverflow s (Cqe.ofResult id res flags) c (Or.inl (fun h => by rw [ho] at h; injection h))
      | nil =>
        rw [ho] at hs'
        byCases d : s.cqHeadSeen + s.cqCap ≤ s.cqeTail
        · simp only [overflowIfDue, ifPos d] at hs'
          rw [← some_inj hs']; exact Step.kOverflow s (Cqe.ofResult id res flags) c (Or.inr d)
        · simp only [overflowIfDue, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kFlush j, s', hs => by
    byCases c : j = s.cqeTail
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases ho : s.overflow with
      | nil => rw [ho] at hs'; exact (none_ne_some hs').elim
      | cons x xs =>
        rw [ho] at hs'
        byCases d : s.cqeTail < s.cqHeadSeen + s.cqCap
        · simp only [flushIfRoom, ifPos d] at hs'
          rw [← some_inj hs']; exact Step.kFlush s x xs ho d
        · simp only [flushIfRoom, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.kCommitCq t, s', hs => by
    byCases c : t = s.cqeTail
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.kCommitCq s
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uLoadCqTail t, s', hs => by
    byCases c : s.uCqTailSeen ≤ t ∧ t ≤ s.cqTail
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.uLoadCqTail s t c.1 c.2
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uReap j id, s', hs => by
    byCases c : j = s.uCqHead ∧ s.uCqHead < s.uCqTailSeen
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      cases he : s.cqes (slot s.cqCap s.uCqHead) with
      | none => rw [he] at hs'; exact (none_ne_some hs').elim
      | some x =>
        rw [he] at hs'
        byCases d : x.userData = id
        · simp only [reapCq, ifPos d] at hs'
          rw [← some_inj hs']; exact Step.uReap s x c.2 (fun _ => he)
        · simp only [reapCq, ifNeg d] at hs'
    · have hs' := hs; simp only [step?, ifNeg c] at hs'
  | Action.uCqAdvance h, s', hs => by
    byCases c : h = s.uCqHead
    · have hs' := hs; simp only [step?, ifPos c] at hs'
      rw [← some_inj hs']; exact Step.uCqAdvance s
    · have hs' := hs; simp only [step?, ifNeg c] at hs'

/-- A replay that accepts a trace from a reachable state ends in a reachable state, so every
theorem about `Reach` holds along any accepted trace. -/
theorem replay_reach : ∀ (s : St) (as : List Action) (k : Nat) (t : St),
    Reach s → replay s as k = Sum.inr t → Reach t
  | s, [], k, t, r, h => by
    have h' : Sum.inr s = Sum.inr t := h
    injection h' with e; rw [← e]; exact r
  | s, a :: as, k, t, r, h => by
    cases hs : step? s a with
    | none =>
      have h' := h; simp only [replay] at h'; rw [hs] at h'; injection h'
    | some s' =>
      have h' := h; simp only [replay] at h'; rw [hs] at h'
      exact replay_reach s' as (k + 1) t (Reach.step r (step?_sound s a s' hs)) h'

/-- Stripping commutes with a step, up to the (stripped) histories. -/
theorem strip_step? (s : St) (a : Action) :
    (step? (strip s) a).map strip = (step? s a).map strip := by
  cases a with
  | uLoadHead h =>
    byCases c : s.headSeen ≤ h ∧ h ≤ s.sqHead
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | uPublish t =>
    byCases c : t = s.sqeTail
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kLoadTail t =>
    byCases c : s.kTailSeen ≤ t ∧ t ≤ s.sqTail
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kCommitSq h =>
    byCases c : h = s.kHead
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kLoadCqHead h =>
    byCases c : s.cqHeadSeen ≤ h ∧ h ≤ s.cqHead
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kCommitCq t =>
    byCases c : t = s.cqeTail
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | uLoadCqTail t =>
    byCases c : s.uCqTailSeen ≤ t ∧ t ≤ s.cqTail
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | uCqAdvance h =>
    byCases c : h = s.uCqHead
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | uGetSqe i id =>
    byCases c : i = s.sqeTail ∧ s.sqeTail < s.headSeen + s.cap
    · simp only [step?, strip, Option.map, ifPos c]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kGetSqe i id =>
    byCases c : i = s.kHead ∧ s.kHead < s.kTailSeen
    · cases he : s.sqes (slot s.cap s.kHead) with
      | none => simp only [step?, strip, Option.map, ifPos c, he]; try rfl
      | some e =>
        byCases d : e.userData = id
        · simp only [step?, strip, Option.map, ifPos c, he, consumeSq, ifPos d]; try rfl
        · simp only [step?, strip, Option.map, ifPos c, he, consumeSq, ifNeg d]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | uReap j id =>
    byCases c : j = s.uCqHead ∧ s.uCqHead < s.uCqTailSeen
    · cases he : s.cqes (slot s.cqCap s.uCqHead) with
      | none => simp only [step?, strip, Option.map, ifPos c, he]; try rfl
      | some x =>
        byCases d : x.userData = id
        · simp only [step?, strip, Option.map, ifPos c, he, reapCq, ifPos d]; try rfl
        · simp only [step?, strip, Option.map, ifPos c, he, reapCq, ifNeg d]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kPost j id res flags =>
    byCases c : j = s.cqeTail ∧ s.inflight.elem id = true
    · cases ho : s.overflow with
      | cons x xs => simp only [step?, strip, Option.map, ifPos c, ho, postIfRoom]; try rfl
      | nil =>
        byCases d : s.cqeTail < s.cqHeadSeen + s.cqCap
        · simp only [step?, strip, Option.map, ifPos c, ho, postIfRoom, ifPos d, post]; try rfl
        · simp only [step?, strip, Option.map, ifPos c, ho, postIfRoom, ifNeg d]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kOverflow id res flags =>
    byCases c : s.inflight.elem id = true
    · cases ho : s.overflow with
      | cons x xs => simp only [step?, strip, Option.map, ifPos c, ho, overflowIfDue, overflowCq]; try rfl
      | nil =>
        byCases d : s.cqHeadSeen + s.cqCap ≤ s.cqeTail
        · simp only [step?, strip, Option.map, ifPos c, ho, overflowIfDue, ifPos d, overflowCq]; try rfl
        · simp only [step?, strip, Option.map, ifPos c, ho, overflowIfDue, ifNeg d]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl
  | kFlush j =>
    byCases c : j = s.cqeTail
    · cases ho : s.overflow with
      | nil => simp only [step?, strip, Option.map, ifPos c, ho, flushIfRoom]; try rfl
      | cons x xs =>
        byCases d : s.cqeTail < s.cqHeadSeen + s.cqCap
        · simp only [step?, strip, Option.map, ifPos c, ho, flushIfRoom, ifPos d, flush]; try rfl
        · simp only [step?, strip, Option.map, ifPos c, ho, flushIfRoom, ifNeg d]; try rfl
    · simp only [step?, strip, Option.map, ifNeg c]; try rfl

theorem map_some {α β : Type} {f : α → β} {y : β} : ∀ {o : Option α}, o.map f = some y → ∃ x, o = some x ∧ f x = y
  | none, h => by injection h
  | some x, h => ⟨x, rfl, by injection h; assumption⟩

/-- What the fast replay accepts, the full replay accepts too. -/
theorem replayFast_sound : ∀ (as : List Action) (s : St) (k : Nat) (u : St),
    replayFast (strip s) as k = Sum.inr u → ∃ t, replay s as k = Sum.inr t ∧ strip t = u
  | [], s, k, u, h => by
    have h' : Sum.inr (strip s) = Sum.inr u := h
    injection h' with e
    exact ⟨s, rfl, e⟩
  | a :: as, s, k, u, h => by
    cases hs : step? s a with
    | none =>
      have hm : (step? (strip s) a).map strip = none := by rw [strip_step?, hs]; rfl
      cases hf : step? (strip s) a with
      | some v => rw [hf] at hm; injection hm
      | none =>
        have h' := h; simp only [replayFast] at h'; rw [hf] at h'; injection h'
    | some s' =>
      have hm : (step? (strip s) a).map strip = some (strip s') := by rw [strip_step?, hs]; rfl
      cases map_some hm with
      | intro v hv =>
        have h' := h; simp only [replayFast] at h'; rw [hv.1] at h'
        have h'' : replayFast (strip s') as (k + 1) = Sum.inr u := by rw [← hv.2]; exact h'
        cases replayFast_sound as s' (k + 1) u h'' with
        | intro t ht =>
          exact ⟨t, by simp only [replay]; rw [hs]; exact ht.1, ht.2⟩

/-- A trace the checker accepts from a fresh ring is a path of the model: it ends in a state
that is (up to the stripped histories) reachable. -/
theorem replayFast_reach (cap cqCap : Nat) (h1 : 0 < cap) (h2 : 0 < cqCap) (as : List Action)
    (u : St) (h : replayFast (init cap cqCap) as 0 = Sum.inr u) : ∃ t, Reach t ∧ strip t = u := by
  cases replayFast_sound as (init cap cqCap) 0 u h with
  | intro t ht => exact ⟨t, replay_reach _ as 0 t (Reach.init cap cqCap h1 h2) ht.1, ht.2⟩

/-- What the checker's loop accepts is a trace `replayFast` accepts, whatever the parser. -/
theorem replayParsed_fast {β : Type} (parse : St → β → Option Action) :
    ∀ (xs : List β) (s : St) (k : Nat) (u : St), replayParsed parse s xs = Sum.inr u →
      ∃ as, replayFast s as k = Sum.inr u
  | [], s, k, u, h => by
    have h' : (Sum.inr s : Sum (β × Bool) St) = Sum.inr u := h
    injection h' with e
    rw [← e]
    exact ⟨[], rfl⟩
  | x :: xs, s, k, u, h => by
    cases hp : parse s x with
    | none => have h' := h; simp only [replayParsed] at h'; rw [hp] at h'; injection h'
    | some a =>
      have h' := h; simp only [replayParsed] at h'; rw [hp] at h'
      have h2 : (match step? s a with
          | some s' => replayParsed parse (strip s') xs
          | none => Sum.inl (x, true)) = Sum.inr u := h'
      cases hs : step? s a with
      | none => rw [hs] at h2; injection h2
      | some s' =>
        rw [hs] at h2
        cases replayParsed_fast parse xs (strip s') (k + 1) u h2 with
        | intro as has => exact ⟨a :: as, by simp only [replayFast]; rw [hs]; exact has⟩

/-- A trace the conformance checker accepts from a fresh ring is a path of the model. -/
theorem replayParsed_reach {β : Type} (parse : St → β → Option Action) (cap cqCap : Nat)
    (h1 : 0 < cap) (h2 : 0 < cqCap) (xs : List β) (u : St)
    (h : replayParsed parse (init cap cqCap) xs = Sum.inr u) : ∃ t, Reach t ∧ strip t = u := by
  cases replayParsed_fast parse xs (init cap cqCap) 0 u h with
  | intro as has => exact replayFast_reach cap cqCap h1 h2 as u has

end Ring
