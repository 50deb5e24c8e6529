/-
Sched.Replay: the scheduler twin is sound.  Every line `step?` accepts takes a reachable model
state, bounded by `hi`, to a reachable one, so a trace `replay` accepts from `T.init` ends in a
state of `Reach` (`replay_reach`): the real scheduler's run is a path of the model, and every
theorem of Sched.Theorems holds along it.
-/
import Sched.Basic
import Sched.Exec

namespace Ring
open Sched

def Sched.Good (t : T) : Prop := Reach t.st ∧ Bound t.hi t.st

theorem Sched.isNone_true {α : Type} {o : Option α} (h : o.isNone = true) : o = none := by
  cases o with
  | none => rfl
  | some _ => exact Bool.noConfusion h

theorem Sched.anyBelow_succ (p : Nat → Bool) (n : Nat) :
    anyBelow p (n + 1) = if p n = true then true else anyBelow p n := rfl

theorem Sched.allBelow_succ (p : Nat → Bool) (n : Nat) :
    allBelow p (n + 1) = if p n = true then allBelow p n else false := rfl

theorem Sched.anyBelow_exists {p : Nat → Bool} : ∀ {n : Nat}, anyBelow p n = true → ∃ i, i < n ∧ p i = true
  | 0, h => Bool.noConfusion h
  | n + 1, h => by
    byCases hp : p n = true
    · exact ⟨n, Nat.ltSuccSelf n, hp⟩
    · rw [anyBelow_succ, ifNeg hp] at h
      let ⟨i, hi, hpi⟩ := anyBelow_exists h
      exact ⟨i, Nat.leStep hi, hpi⟩

theorem Sched.anyBelow_of {p : Nat → Bool} : ∀ {n i : Nat}, i < n → p i = true → anyBelow p n = true
  | 0, i, h, _ => absurd h (Nat.notLtZero _)
  | n + 1, i, h, hp => by
    byCases hn : p n = true
    · rw [anyBelow_succ, ifPos hn]
    · rw [anyBelow_succ, ifNeg hn]
      byCases e : i = n
      · rw [e] at hp; exact absurd hp hn
      · exact anyBelow_of (Nat.ltOfLeAndNe (Nat.leOfLtSucc h) e) hp

theorem Sched.allBelow_all {p : Nat → Bool} : ∀ {n : Nat}, allBelow p n = true → ∀ i, i < n → p i = true
  | 0, _, i, hi => absurd hi (Nat.notLtZero _)
  | n + 1, h, i, hi => by
    byCases hp : p n = true
    · rw [allBelow_succ, ifPos hp] at h
      byCases e : i = n
      · rw [e]; exact hp
      · exact allBelow_all h i (Nat.ltOfLeAndNe (Nat.leOfLtSucc hi) e)
    · rw [allBelow_succ, ifNeg hp] at h
      exact Bool.noConfusion h

/-- A slot holding a waiter is below the bound. -/
theorem Sched.below_of_waiter {hi : Nat} {s : St} (hb : Bound hi s) {i : Nat} {w : Waiter}
    (h : (s.slots i).waiter = some w) : i < hi :=
  match Nat.ltOrGe i hi with
  | Or.inl l => l
  | Or.inr g => by rw [hb i g] at h; exact Option.noConfusion h

theorem Sched.owes_true {s : St} {sw c i : Nat} (h : owes s sw c i = true) :
    ∃ w, (s.slots i).waiter = some w ∧ w.cont = c ∧ w.sw = sw ∧ w.onRing = true := by
  revert h
  simp only [owes]
  cases hw : (s.slots i).waiter with
  | none => intro h; exact Bool.noConfusion h
  | some w => intro h; exact ⟨w, rfl, ofDecideEqTrue h⟩

theorem Sched.owes_of {s : St} {sw c i : Nat} {w : Waiter} (hw : (s.slots i).waiter = some w)
    (hc : w.cont = c ∧ w.sw = sw ∧ w.onRing = true) : owes s sw c i = true := by
  simp only [owes]
  rw [hw]
  exact decideEqTrue hc

theorem Sched.toCancel_iff {hi : Nat} {s : St} (hb : Bound hi s) (sw c : Nat) :
    toCancel s sw c ↔ toCancelB s hi sw c :=
  ⟨fun ⟨⟨i, w, hw, hc, hs, hr⟩, hn⟩ =>
    ⟨anyBelow_of (below_of_waiter hb hw) (owes_of hw ⟨hc, hs, hr⟩), hn⟩,
   fun ⟨ha, hn⟩ =>
    let ⟨i, _, ho⟩ := anyBelow_exists ha
    let ⟨w, hw, hc, hs, hr⟩ := owes_true ho
    ⟨⟨i, w, hw, hc, hs, hr⟩, hn⟩⟩

/-! ### The twin's operations are the model's -/

theorem Sched.twin_park (t : T) (i : Nat) (w : Waiter) : (t.park i w).st = park t.st i w := by
  simp only [T.park, T.st, park, Tree.fn_set] <;> rfl

theorem Sched.twin_finish (t : T) (i : Nat) (w : Waiter) : (t.finish i w).st = finish t.st i w := by
  simp only [T.finish, T.st, finish, Tree.fn_set] <;> rfl

theorem Sched.twin_finishRet (t : T) (i : Nat) (w : Waiter) (p v : Nat) :
    (t.finishRet i w p v).st = finishRet t.st i w p v := by
  simp only [T.finishRet, T.finish, T.st, finishRet, finish, Tree.fn_set] <;> rfl

theorem Sched.twin_resolve (t : T) (p v : Nat) : (t.resolve p v).st = resolveSt t.st p v := by
  simp only [T.resolve, T.st, resolveSt, Tree.fn_set] <;> rfl

theorem Sched.twin_endRun (t : T) (c : Nat) :
    ({ t with ended := t.ended.set c true }).st = { t.st with ended := upd t.st.ended c true } := by
  simp only [T.st, Tree.fn_set] <;> rfl

theorem Sched.twin_dispatch (t : T) (tag : Tag) (f : Bool) :
    (t.dispatch tag f).st = dispatch t.st tag f := by
  byCases hg : (t.st.slots tag.idx).gen = tag.gen
  · have e1 : t.dispatch tag f = (match (t.st.slots tag.idx).waiter with
        | some w => if f then { t with more := t.more.set w.cont (t.st.more w.cont + 1) }
                    else t.finish tag.idx w
        | none => t) := by simp only [T.dispatch, ifPos hg] <;> rfl
    have e2 : dispatch t.st tag f = (match (t.st.slots tag.idx).waiter with
        | some w => if f then { t.st with more := upd t.st.more w.cont (t.st.more w.cont + 1) }
                    else finish t.st tag.idx w
        | none => t.st) := by simp only [dispatch, ifPos hg] <;> rfl
    rw [e1, e2]
    cases (t.st.slots tag.idx).waiter with
    | none => rfl
    | some w =>
      cases f with
      | true => simp only [ifPos rfl, T.st, Tree.fn_set] <;> rfl
      | false => exact twin_finish t tag.idx w
  · simp only [T.dispatch, dispatch, ifNeg hg] <;> rfl

theorem Sched.twin_dispatch_hi (t : T) (tag : Tag) (f : Bool) : (t.dispatch tag f).hi = t.hi := by
  byCases hg : (t.st.slots tag.idx).gen = tag.gen
  · have e1 : t.dispatch tag f = (match (t.st.slots tag.idx).waiter with
        | some w => if f then { t with more := t.more.set w.cont (t.st.more w.cont + 1) }
                    else t.finish tag.idx w
        | none => t) := by simp only [T.dispatch, ifPos hg] <;> rfl
    rw [e1]
    cases (t.st.slots tag.idx).waiter with
    | none => rfl
    | some w => cases f with
      | true => rfl
      | false => rfl
  · simp only [T.dispatch, ifNeg hg] <;> rfl

theorem Sched.twin_init : T.init.st = init := by
  simp only [T.init, T.st, Tree.fn_spread] <;> rfl

theorem Sched.good_of {t' : T} {s : St} (e : t'.st = s) (r : Reach s) (b : Bound t'.hi s) :
    Good t' := by
  show Reach t'.st ∧ Bound t'.hi t'.st
  rw [e]; exact ⟨r, b⟩

/-! ### The bound across each kind of step -/

theorem Sched.bound_park {hi : Nat} {s : St} (hb : Bound hi s) (i : Nat) (w : Waiter) :
    Bound (parkHi hi i) (park s i w) := fun j hj => by
  have hij : j ≠ i := fun e => by
    rw [e] at hj
    simp only [parkHi] at hj
    byCases l : i < hi
    · simp only [ifPos l] at hj; exact Nat.ltIrrefl i (Nat.ltOfLtOfLe l hj)
    · rw [ifNeg l] at hj; exact Nat.notSuccLeZero 0 (by
        have := Nat.ltOfLtOfLe (Nat.ltSuccSelf i) hj
        exact absurd this (Nat.ltIrrefl i))
  rw [park_slot_old s i w hij]
  apply hb j
  simp only [parkHi] at hj
  byCases l : i < hi
  · simp only [ifPos l] at hj; exact hj
  · rw [ifNeg l] at hj
    exact Nat.leTrans (Nat.leOfLt (match Nat.ltOrGe i hi with
      | Or.inl h => absurd h l
      | Or.inr h => Nat.ltOfLeOfLt h (Nat.ltSuccSelf i))) hj

theorem Sched.bound_finish {hi : Nat} {s : St} (hb : Bound hi s) (i : Nat) (w : Waiter) :
    Bound hi (finish s i w) := fun j hj => by
  cases h : ((finish s i w).slots j).waiter with
  | none => rfl
  | some w' =>
    have := (finish_slot_waiter s i w j w' h).2
    rw [hb j hj] at this
    exact Option.noConfusion this

theorem Sched.bound_dispatch {hi : Nat} {s : St} (hb : Bound hi s) (t : Tag) (f : Bool) :
    Bound hi (dispatch s t f) := by
  cases dispatch_cases s t f with
  | inl e => rw [e]; exact hb
  | inr e =>
    let ⟨w, _, _, h⟩ := e
    cases h with
    | inl h => rw [h.2]; exact hb
    | inr h => rw [h.2]; exact bound_finish hb t.idx w

/-- The twin's `fail` is the model's. -/
theorem Sched.ensureFailed_good {t : T} (g : Good t) (sw : Nat) :
    Good (ensureFailed t sw) ∧ (ensureFailed t sw).hi = t.hi ∧
    (ensureFailed t sw).st.slots = t.st.slots ∧ (ensureFailed t sw).st.failed sw = true := by
  simp only [ensureFailed]
  byCases hf : t.st.failed sw = false
  · rw [ifPos hf]
    refine ⟨⟨?_, g.2⟩, rfl, rfl, upd_same _ _ _⟩
    apply Reach.step g.1
    apply Step.fail t.st sw _ _ hf
    · intro c hc
      have hb := (toCancel_iff g.2 sw c).mp hc
      exact ⟨ifPos hb, ifPos hb⟩
    · intro c hc
      have hb : ¬ toCancelB t.st t.hi sw c := fun h => hc ((toCancel_iff g.2 sw c).mpr h)
      exact ⟨ifNeg hb, ifNeg hb⟩
  · rw [ifNeg hf]
    refine ⟨g, rfl, rfl, ?_⟩
    cases h : t.st.failed sw with
    | true => rfl
    | false => exact absurd h hf

theorem Sched.failAll_good : ∀ {t : T}, Good t → ∀ (ds : List Nat), Good (failAll t ds)
  | t, g, [] => g
  | t, g, d :: ds => failAll_good (ensureFailed_good g d).1 ds

/-! ### Each line -/

theorem Sched.stepPark_good {t t' : T} (g : Good t) {i gen ctx : Nat} {onRing : Bool} {p : Nat}
    (h : stepPark t i gen ctx onRing p = some t') : Good t' := by
  simp only [stepPark] at h
  byCases c : t.owed.isNone = true ∧ (t.st.slots i).waiter.isNone = true ∧ (t.st.slots i).gen = gen ∧
      t.st.failed ctx = false ∧ t.st.ended ctx = false
  · simp only [ifPos c] at h
    byCases r : onRing = true
    · simp only [ifPos r] at h
      rw [← Option.some.inj h]
      exact good_of (twin_park t i _) (Reach.step g.1 (Step.submit t.st i ctx none
        (isNone_true c.2.1) c.2.2.2.1 c.2.2.2.2 (fun b hb => Option.noConfusion hb))) (bound_park g.2 i _)
    · rw [ifNeg r] at h
      byCases hp : (t.st.prom p).isNone = true
      · simp only [ifPos hp] at h
        rw [← Option.some.inj h]
        exact good_of (twin_park t i _) (Reach.step g.1 (Step.awaitPark t.st i ctx p
          (isNone_true c.2.1) c.2.2.2.1 c.2.2.2.2 (isNone_true hp))) (bound_park g.2 i _)
      · simp only [ifNeg hp] at h <;> exact Option.noConfusion h
  · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.onRingIfLive_guard {s : St} {gen i : Nat} (h : onRingIfLive s gen i = true) :
    ∀ w, (s.slots (Tag.mk gen i).idx).gen = (Tag.mk gen i).gen →
      (s.slots (Tag.mk gen i).idx).waiter = some w → w.onRing = true := by
  intro w hg hw
  revert h
  simp only [onRingIfLive]
  show (match (s.slots i).waiter with
    | some w => if (s.slots i).gen = gen then w.onRing else true
    | none => true) = true → w.onRing = true
  rw [hw]
  have hg' : (s.slots i).gen = gen := hg
  intro h
  simp only [ifPos hg'] at h
  exact h

theorem Sched.stepCqe_good {t t' : T} (g : Good t) {gen i : Nat} {fmore : Bool} {what : Outcome}
    (h : stepCqe t gen i fmore what = some t') : Good t' := by
  simp only [stepCqe] at h
  byCases c : t.owed.isNone = true ∧ onRingIfLive t.st gen i = true ∧ what = outcome t.st gen i fmore
  · simp only [ifPos c] at h
    rw [← Option.some.inj h]
    exact good_of (twin_dispatch t _ _) (Reach.step g.1 (Step.cqe t.st ⟨gen, i⟩ fmore
      (onRingIfLive_guard c.2.1))) (by rw [twin_dispatch_hi]; exact bound_dispatch g.2 _ _)
  · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.stepCancel_good {t t' : T} (g : Good t) {i : Nat} (h : stepCancel t i = some t') :
    Good t' := by
  revert h
  simp only [stepCancel]
  cases hw : (t.st.slots i).waiter with
  | none => intro h; simp only [] at h <;> exact Option.noConfusion h
  | some w =>
    intro h
    cases ho : t.owed with
    | none =>
      simp only [ho] at h
      byCases c : w.onRing = true ∧ t.st.cancelSent w.cont = false
      · simp only [ifPos c] at h
        rw [← Option.some.inj h]
        exact ⟨Reach.step g.1 (Step.cancelOp t.st i w hw c.1 c.2), g.2⟩
      · simp only [ifNeg c] at h <;> exact Option.noConfusion h
    | some l =>
      simp only [ho] at h
      byCases c : t.st.failed w.sw = true
      · simp only [ifPos c] at h
        cases he : erase w.cont l with
        | none => simp only [he, Option.map] at h <;> exact Option.noConfusion h
        | some l2 =>
          simp only [he, Option.map] at h
          rw [← Option.some.inj h]
          exact g
      · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.stepWake_good {t t' : T} (g : Good t) {i : Nat} (h : stepWake t i = some t') :
    Good t' := by
  revert h
  simp only [stepWake]
  cases hw : (t.st.slots i).waiter with
  | none => intro h; simp only [] at h <;> exact Option.noConfusion h
  | some w =>
    cases ho : t.owed with
    | none => intro h; simp only [] at h <;> exact Option.noConfusion h
    | some l =>
      intro h
      byCases c : w.onRing = false ∧ t.st.failed w.sw = true
      · simp only [ifPos c] at h
        rw [← Option.some.inj h]
        exact good_of (twin_finish t i w) (Reach.step g.1 (Step.wakeCancelled t.st i w hw c.1 c.2))
          (bound_finish g.2 i w)
      · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.stepDeadlock_good {t t' : T} (g : Good t) {i : Nat} (h : stepDeadlock t i = some t') :
    Good t' := by
  revert h
  simp only [stepDeadlock]
  cases hw : (t.st.slots i).waiter with
  | none => intro h; exact Option.noConfusion h
  | some w =>
    intro h
    byCases c : t.owed.isNone = true ∧ w.onRing = false ∧ allBelow (offRing t.st) t.hi = true
    · simp only [ifPos c] at h
      rw [← Option.some.inj h]
      have hnone : ∀ j w', (t.st.slots j).waiter = some w' → w'.onRing = false := fun j w' hj => by
        have := allBelow_all c.2.2 j (below_of_waiter g.2 hj)
        revert this
        simp only [offRing]
        rw [hj]
        intro hn
        cases hr : w'.onRing with
        | false => rfl
        | true => simp only [hr] at hn <;> exact Bool.noConfusion hn
      exact good_of (twin_finish t i w) (Reach.step g.1 (Step.wakeDeadlock t.st i w hw c.2.1 hnone))
        (bound_finish g.2 i w)
    · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.stepPwake_good {t t' : T} (g : Good t) {i p : Nat} (h : stepPwake t i p = some t') :
    Good t' := by
  revert h
  simp only [stepPwake]
  cases hw : (t.st.slots i).waiter with
  | none => intro h; exact Option.noConfusion h
  | some w =>
    cases hp : t.st.prom p with
    | none => intro h; exact Option.noConfusion h
    | some v =>
      intro h
      byCases c : t.owed.isNone = true ∧ w.onRing = false ∧ w.wait = some p
      · simp only [ifPos c] at h
        rw [← Option.some.inj h]
        exact good_of (twin_finishRet t i w p v)
          (Reach.step g.1 (Step.wakePromise t.st i p v w hw c.2.1 c.2.2 hp)) (bound_finish g.2 i w)
      · simp only [ifNeg c] at h <;> exact Option.noConfusion h

theorem Sched.stepSignal_good {t t' : T} (g : Good t) {i : Nat} (h : stepSignal t i = some t') :
    Good t' := by
  revert h
  simp only [stepSignal]
  cases hw : (t.st.slots i).waiter with
  | none => intro h; exact Option.noConfusion h
  | some w =>
    intro h
    cases hq : w.wait with
    | none => simp only [hq] at h <;> exact Option.noConfusion h
    | some p =>
      simp only [hq] at h
      byCases c : t.owed.isNone = true ∧ w.onRing = false ∧ (t.st.prom p).isNone = true
      · simp only [ifPos c] at h
        rw [← Option.some.inj h]
        have r1 := Reach.step g.1 (Step.resolve t.st p 0 (isNone_true c.2.2))
        have hp : (resolveSt t.st p 0).prom p = some 0 := upd_same _ _ _
        have e : ((t.resolve p 0).finishRet i w p 0).st = finishRet (resolveSt t.st p 0) i w p 0 := by
          rw [twin_finishRet, twin_resolve]
        exact good_of e (Reach.step r1 (Step.wakePromise (resolveSt t.st p 0) i p 0 w hw c.2.1 hq hp))
          (bound_finish g.2 i w)
      · simp only [ifNeg c] at h <;> exact Option.noConfusion h

/-- Soundness: a line the twin accepts takes a good state to a good one. -/
theorem Sched.step?_good {t t' : T} (g : Good t) : ∀ (e : Ev), step? t e = some t' → Good t'
  | Ev.park i gen ctx onRing p, h => stepPark_good g h
  | Ev.cqe gen i fmore what, h => stepCqe_good g h
  | Ev.cancel i, h => stepCancel_good g h
  | Ev.fail c ds, h => by
    simp only [step?] at h
    byCases o : t.owed.isNone = true
    · simp only [ifPos o] at h
      rw [← Option.some.inj h]
      exact failAll_good (ensureFailed_good (t := { t with owed := some [] }) g c).1 ds
    · simp only [ifNeg o] at h <;> exact Option.noConfusion h
  | Ev.wake i, h => stepWake_good g h
  | Ev.done, h => by
    revert h
    simp only [step?]
    cases t.owed with
    | none => intro h; exact Option.noConfusion h
    | some l =>
      cases l with
      | nil => intro h; rw [← Option.some.inj h]; exact g
      | cons x xs => intro h; exact Option.noConfusion h
  | Ev.deadlock i, h => stepDeadlock_good g h
  | Ev.resolve p, h => by
    simp only [step?] at h
    byCases c : t.owed.isNone = true ∧ (t.st.prom p).isNone = true
    · simp only [ifPos c] at h; rw [← Option.some.inj h]
      exact good_of (twin_resolve t p 0) (Reach.step g.1 (Step.resolve t.st p 0 (isNone_true c.2))) g.2
    · simp only [ifNeg c] at h <;> exact Option.noConfusion h
  | Ev.pwake i p, h => stepPwake_good g h
  | Ev.signal i, h => stepSignal_good g h
  | Ev.ready p, h => by
    revert h
    simp only [step?]
    cases hp : t.st.prom p with
    | none => intro h; exact Option.noConfusion h
    | some v =>
      intro h
      byCases o : t.owed.isNone = true
      · simp only [ifPos o] at h; rw [← Option.some.inj h]
        exact ⟨Reach.step g.1 (Step.awaitReady t.st p v hp), g.2⟩
      · simp only [ifNeg o] at h <;> exact Option.noConfusion h
  | Ev.endRun c, h => by
    simp only [step?] at h
    byCases k : t.owed.isNone = true ∧ t.st.ended c = false ∧ allBelow (notIn t.st c) t.hi = true
    · simp only [ifPos k] at h; rw [← Option.some.inj h]
      have hnone : ∀ j w, (t.st.slots j).waiter = some w → w.sw ≠ c := fun j w hj => by
        have := allBelow_all k.2.2 j (below_of_waiter g.2 hj)
        revert this
        simp only [notIn]
        rw [hj]
        exact ofDecideEqTrue
      exact good_of (twin_endRun t c) (Reach.step g.1 (Step.endRun t.st c k.2.1 hnone)) g.2
    · simp only [ifNeg k] at h <;> exact Option.noConfusion h

theorem Sched.replay_good : ∀ {t t' : T} (n : Nat) (es : List Ev), Good t →
    replay t n es = Except.ok t' → Good t'
  | t, t', n, [], g, h => by
    have : t = t' := by injection h; assumption
    rw [← this]; exact g
  | t, t', n, e :: es, g, h => by
    revert h
    simp only [replay]
    cases hs : step? t e with
    | none => intro h; simp only [] at h <;> injection h
    | some t1 => intro h; exact replay_good (n + 1) es (step?_good g e hs) h

theorem Sched.init_good : Good T.init :=
  good_of twin_init Reach.init (fun _ _ => rfl)

/-- A trace the twin accepts is a path of the scheduler model. -/
theorem Sched.replay_reach {t : T} (es : List Ev) (h : replay T.init 0 es = Except.ok t) :
    Reach t.st :=
  (replay_good 0 es init_good h).1

/-- What a `cqe` line reports is what the model's `dispatch` does with the tag. -/
theorem Sched.step?_reports_cqe {t t' : T} {gen i : Nat} {fmore : Bool} {what : Outcome}
    (h : step? t (Ev.cqe gen i fmore what) = some t') : what = outcome t.st gen i fmore := by
  simp only [step?, stepCqe] at h
  byCases c : t.owed.isNone = true ∧ onRingIfLive t.st gen i = true ∧ what = outcome t.st gen i fmore
  · exact c.2.2
  · simp only [ifNeg c] at h <;> exact Option.noConfusion h

/-- A `park` line reports the generation the model's slot has. -/
theorem Sched.step?_reports_park {t t' : T} {i gen ctx p : Nat} {onRing : Bool}
    (h : step? t (Ev.park i gen ctx onRing p) = some t') : (t.st.slots i).gen = gen := by
  simp only [step?, stepPark] at h
  byCases c : t.owed.isNone = true ∧ (t.st.slots i).waiter.isNone = true ∧ (t.st.slots i).gen = gen ∧
      t.st.failed ctx = false ∧ t.st.ended ctx = false
  · exact c.2.2.1
  · simp only [ifNeg c] at h <;> exact Option.noConfusion h

end Ring
