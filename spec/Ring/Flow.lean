/-
Ring.Flow: requests flow from consumption to completion without being duplicated: for every
user_data, the times it was consumed equal the times it was completed (by a final CQE: one without
F_MORE) plus the times it is still in flight, however many F_MORE CQEs a multishot request posted
before its final one.  (2021 core has no `List.Perm`/`List.count`; `cnt` is a multiset count.)
-/
import Ring.L2

namespace Ring

def cnt (x : Nat) : List Nat → Nat
  | [] => 0
  | y :: ys => (if y = x then 1 else 0) + cnt x ys

def sqIds : List Sqe → List Nat
  | [] => []
  | e :: es => e.userData :: sqIds es

def cqIds : List Cqe → List Nat
  | [] => []
  | c :: cs => c.userData :: cqIds cs

theorem cnt_append (x : Nat) : ∀ (a b : List Nat), cnt x (a ++ b) = cnt x a + cnt x b
  | [], b => by rw [List.nil_append]; exact (Nat.zero_add _).symm
  | y :: ys, b => by
    rw [List.cons_append]
    show (if y = x then 1 else 0) + cnt x (ys ++ b) = ((if y = x then 1 else 0) + cnt x ys) + cnt x b
    rw [cnt_append x ys b, Nat.add_assoc]

theorem sqIds_cons (e : Sqe) (es : List Sqe) : sqIds (e :: es) = e.userData :: sqIds es := rfl

theorem cqIds_cons (c : Cqe) (cs : List Cqe) : cqIds (c :: cs) = c.userData :: cqIds cs := rfl

theorem sqIds_append : ∀ (a b : List Sqe), sqIds (a ++ b) = sqIds a ++ sqIds b
  | [], b => rfl
  | e :: es, b => by
    rw [List.cons_append, sqIds_cons, sqIds_cons, sqIds_append es b, List.cons_append]

theorem cqIds_append : ∀ (a b : List Cqe), cqIds (a ++ b) = cqIds a ++ cqIds b
  | [], b => rfl
  | c :: cs, b => by
    rw [List.cons_append, cqIds_cons, cqIds_cons, cqIds_append cs b, List.cons_append]

/-- The final CQEs of a history: those without F_MORE, each the end of its request. -/
def finals : List Cqe → List Cqe
  | [] => []
  | c :: cs => if c.more = true then finals cs else c :: finals cs

theorem finals_cons_more (c : Cqe) (cs : List Cqe) (h : c.more = true) :
    finals (c :: cs) = finals cs := by
  show (if c.more = true then finals cs else c :: finals cs) = finals cs
  rw [h, ifPos rfl]

theorem finals_cons_final (c : Cqe) (cs : List Cqe) (h : c.more = false) :
    finals (c :: cs) = c :: finals cs := by
  show (if c.more = true then finals cs else c :: finals cs) = c :: finals cs
  rw [h, ifNeg (fun e : false = true => Bool.noConfusion e)]

theorem finals_append : ∀ (a b : List Cqe), finals (a ++ b) = finals a ++ finals b
  | [], b => rfl
  | c :: cs, b => by
    rw [List.cons_append]
    cases h : c.more with
    | true => rw [finals_cons_more c _ h, finals_cons_more c _ h, finals_append cs b]
    | false =>
      rw [finals_cons_final c _ h, finals_cons_final c _ h, finals_append cs b, List.cons_append]

theorem finals_more (c : Cqe) (h : c.more = true) : finals [c] = [] :=
  finals_cons_more c [] h

theorem finals_final (c : Cqe) (h : c.more = false) : finals [c] = [c] :=
  finals_cons_final c [] h

theorem cnt_single (x y : Nat) : cnt x [y] = if y = x then 1 else 0 := rfl

theorem beq_eq {a b : Nat} (h : (a == b) = true) : a = b := ofDecideEqTrue h

theorem beq_ne {a b : Nat} (h : (a == b) = false) : a ≠ b := ofDecideEqFalse h

theorem cnt_erase (x : Nat) : ∀ (l : List Nat), l.elem x = true →
    ∀ y, cnt y l = cnt y (l.erase x) + (if x = y then 1 else 0)
  | [], h => by injection h
  | a :: as, h => by
    intro y
    cases hax : a == x with
    | true =>
      have e : a = x := beq_eq hax
      have hr : (a :: as).erase x = as := by simp only [List.erase, hax]; rfl
      rw [hr, e]
      show (if x = y then 1 else 0) + cnt y as = cnt y as + (if x = y then 1 else 0)
      rw [Nat.add_comm]
    | false =>
      have ne : a ≠ x := beq_ne hax
      have hxa : (x == a) = false := decideEqFalse (fun e => ne e.symm)
      have hr : (a :: as).erase x = a :: as.erase x := by simp only [List.erase, hax]; rfl
      have hel : as.elem x = true := by
        have h' := h; simp only [List.elem, hxa] at h'; exact h'
      rw [hr]
      show (if a = y then 1 else 0) + cnt y as = ((if a = y then 1 else 0) + cnt y (as.erase x)) + (if x = y then 1 else 0)
      rw [cnt_erase x as hel y, Nat.add_assoc]

/-- Conservation of requests between the two rings. -/
def Flow (s : St) : Prop :=
  ∀ x, cnt x (sqIds s.consumed) = cnt x (cqIds (finals s.produced)) + cnt x s.inflight

theorem flow_init (cap cqCap : Nat) : Flow (init cap cqCap) := fun _ => rfl

theorem flow_complete {s : St} (h : Flow s) (c : Cqe) (hin : s.inflight.elem c.userData = true) :
    ∀ x, cnt x (sqIds s.consumed) = cnt x (cqIds (finals (s.produced ++ [c]))) + cnt x (retire s.inflight c) := by
  intro x
  rw [finals_append]
  cases hm : c.more with
  | true =>
    have hr : retire s.inflight c = s.inflight := by
      show (if c.more = true then s.inflight else s.inflight.erase c.userData) = s.inflight
      rw [hm, ifPos rfl]
    rw [finals_more c hm, List.append_nil, hr]; exact h x
  | false =>
    have hr : retire s.inflight c = s.inflight.erase c.userData := by
      show (if c.more = true then s.inflight else s.inflight.erase c.userData) = _
      rw [hm, ifNeg (fun e : false = true => Bool.noConfusion e)]
    rw [finals_final c hm, hr, h x, cqIds_append, cnt_append, cnt_erase c.userData s.inflight hin x]
    show cnt x (cqIds (finals s.produced)) + (cnt x (s.inflight.erase c.userData) + (if c.userData = x then 1 else 0))
      = (cnt x (cqIds (finals s.produced)) + ((if c.userData = x then 1 else 0) + 0)) + cnt x (s.inflight.erase c.userData)
    rw [Nat.add_zero, Nat.add_assoc, Nat.add_comm (cnt x (s.inflight.erase c.userData))]

theorem flow_step {s s' : St} (h : Flow s) (st : Step s s') : Flow s' := by
  cases st with
  | kGetSqe s e _ _ =>
    intro x
    show cnt x (sqIds (s.consumed ++ [e])) = cnt x (cqIds (finals s.produced)) + cnt x (s.inflight ++ [e.userData])
    rw [sqIds_append, cnt_append, cnt_append, h x, Nat.add_assoc]; rfl
  | kPost s c hin _ _ => exact flow_complete h c hin
  | kOverflow s c hin _ => exact flow_complete h c hin
  | uGetSqe s e _ => exact h
  | uLoadHead s _ _ _ => exact h
  | uPublish s => exact h
  | kLoadTail s _ _ _ => exact h
  | kCommitSq s => exact h
  | kLoadCqHead s _ _ _ => exact h
  | kFlush s _ _ _ _ => exact h
  | kCommitCq s => exact h
  | uLoadCqTail s _ _ _ => exact h
  | uReap s _ _ _ => exact h
  | uCqAdvance s => exact h

theorem reach_flow {s : St} (r : Reach s) : Flow s := by
  induction r with
  | init cap cqCap _ _ => exact flow_init cap cqCap
  | step _ st ih => exact flow_step ih st

/-- No request completes more often than it was consumed: a user_data consumed once (the
runtime's case: user_data is unique per request) has at most one final CQE, whatever number
of F_MORE CQEs came before it. -/
theorem completions_le_consumed {s : St} (r : Reach s) (x : Nat) :
    cnt x (cqIds (finals s.produced)) ≤ cnt x (sqIds s.consumed) := by
  rw [reach_flow r x]; exact Nat.leAddRight _ _

theorem cnt_pos_of_elem {x : Nat} {l : List Nat} (h : l.elem x = true) : 0 < cnt x l := by
  rw [cnt_erase x l h x, ifPos rfl]; exact Nat.succPos _

/-- Every step that produces a completion answers a request that is in flight, one the kernel
consumed more often than it has finally completed: no CQE comes out of thin air. -/
theorem complete_answers_inflight {s s' : St} {c : Cqe} (r : Reach s) (st : Step s s')
    (hc : s'.produced = s.produced ++ [c]) :
    s.inflight.elem c.userData = true ∧
      cnt c.userData (cqIds (finals s.produced)) < cnt c.userData (sqIds s.consumed) := by
  have hin : s.inflight.elem c.userData = true := by
    cases st with
    | kPost s c0 hin _ _ => rw [← append_single_inj hc]; exact hin
    | kOverflow s c0 hin _ => rw [← append_single_inj hc]; exact hin
    | _ => exact (ne_append_single hc).elim
  refine ⟨hin, ?_⟩
  rw [reach_flow r c.userData]
  have h := Nat.addLtAddLeft (cnt_pos_of_elem hin) (cnt c.userData (cqIds (finals s.produced)))
  rw [Nat.add_zero] at h
  exact h

/-- A CQE with F_MORE keeps its request in flight, so its later CQEs and its final one are
still allowed (`kPost` and `kOverflow` require the request in flight). -/
theorem more_keeps_in_flight (l : List Nat) (c : Cqe) (h : c.more = true) : retire l c = l := by
  show (if c.more = true then l else l.erase c.userData) = l
  rw [h, ifPos rfl]

end Ring
