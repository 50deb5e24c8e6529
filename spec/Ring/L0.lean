/-
Ring.L0: the abstract service the ring provides: a FIFO of submissions the kernel consumes in
order, and a FIFO of completions the user reaps in order, each completion answering a request
consumed and still in flight.  Nothing about slots or indices.
-/
import Ring.L1

namespace Ring

structure Abs where
  submitted : List Sqe
  consumed : List Sqe
  inflight : List Nat        -- user_data of consumed requests without their final completion
  produced : List Cqe
  reaped : List Cqe

inductive AbsStep : Abs → Abs → Prop
  -- the user submits `e`
  | submit (a a' : Abs) (e : Sqe) : a'.submitted = a.submitted ++ [e] → a'.consumed = a.consumed →
      a'.inflight = a.inflight → a'.produced = a.produced → a'.reaped = a.reaped → AbsStep a a'
  -- the kernel consumes the oldest unconsumed submission
  | consume (a a' : Abs) (e : Sqe) (r : List Sqe) : a.consumed ++ e :: r = a.submitted →
      a'.submitted = a.submitted → a'.consumed = a.consumed ++ [e] →
      a'.inflight = a.inflight ++ [e.userData] →
      a'.produced = a.produced → a'.reaped = a.reaped → AbsStep a a'
  -- the kernel completes a request in flight (its final CQE retires it, an F_MORE one does not)
  | complete (a a' : Abs) (c : Cqe) : a.inflight.elem c.userData = true →
      a'.submitted = a.submitted → a'.consumed = a.consumed →
      a'.inflight = retire a.inflight c →
      a'.produced = a.produced ++ [c] → a'.reaped = a.reaped → AbsStep a a'
  -- the user reaps the oldest unreaped completion
  | reap (a a' : Abs) (c : Cqe) (r : List Cqe) : a.reaped ++ c :: r = a.produced →
      a'.submitted = a.submitted → a'.consumed = a.consumed → a'.inflight = a.inflight →
      a'.produced = a.produced → a'.reaped = a.reaped ++ [c] → AbsStep a a'

def Abs.init : Abs := ⟨[], [], [], [], []⟩

inductive AbsReach : Abs → Prop
  | init : AbsReach Abs.init
  | step {a a' : Abs} : AbsReach a → AbsStep a a' → AbsReach a'

theorem prefix_append_right {α : Type} {a b : List α} (x : List α) (h : Prefix a b) :
    Prefix a (b ++ x) :=
  match h with
  | ⟨r, hr⟩ => ⟨r ++ x, by rw [← List.append_assoc, hr]⟩

theorem prefix_of_cons {α : Type} {a b r : List α} {e : α} (h : a ++ e :: r = b) :
    Prefix (a ++ [e]) b :=
  ⟨r, by rw [List.append_assoc]; exact h⟩

/-- L0 FIFO property: what the kernel consumed is a prefix of what was submitted, and what the
user reaped is a prefix of what was produced (so nothing is taken twice or out of order). -/
theorem abs_fifo {a : Abs} (r : AbsReach a) :
    Prefix a.consumed a.submitted ∧ Prefix a.reaped a.produced := by
  induction r with
  | init => exact ⟨Prefix.refl _, Prefix.refl _⟩
  | step _ st ih =>
    cases st with
    | submit a a' e h1 h2 _ h3 h4 =>
      rw [h1, h2, h3, h4]; exact ⟨prefix_append_right _ ih.1, ih.2⟩
    | consume a a' e r hr h1 h2 _ h3 h4 =>
      rw [h1, h2, h3, h4]; exact ⟨prefix_of_cons hr, ih.2⟩
    | complete a a' c _ h1 h2 _ h3 h4 =>
      rw [h1, h2, h3, h4]; exact ⟨ih.1, prefix_append_right _ ih.2⟩
    | reap a a' c r hr h1 h2 _ h3 h4 =>
      rw [h1, h2, h3, h4]; exact ⟨ih.1, prefix_of_cons hr⟩

end Ring
