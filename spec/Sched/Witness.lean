/-
Sched.Witness: the theorems are not vacuous.  Explicit reachable states: one where a
continuation has been handed an F_MORE CQE and then resumed by its final CQE; one where a
failed switch has a parked on-ring waiter that was sent its one cancel; one where an `await`
parked on a promise returned the value it was resolved to.
-/
import Sched.Theorems

namespace Ring
open Sched

/-- The waiter of the first `submit` from `init`: continuation 0, switch 0, on the ring. -/
def Sched.w0 : Waiter := { cont := 0, sw := 0, onRing := true, buf := some 5, wait := none }

def Sched.s1 : St := park init 0 w0

theorem Sched.s1_reach : Reach s1 :=
  Reach.step Reach.init
    (Step.submit init 0 0 (some 5) rfl rfl rfl (fun _ _ => rfl))

theorem Sched.s1_slot (j : Nat) (w : Waiter) (h : (s1.slots j).waiter = some w) : j = 0 ∧ w = w0 := by
  cases park_slot_waiter init 0 w0 j w h with
  | inl e => exact e
  | inr e => exact Option.noConfusion e.2

/-- Continuation 0 gets one F_MORE CQE, then its final CQE: more = 1, resumed = 1, and its
buffer 5 is lent before the final CQE and given back after it. -/
theorem Sched.witness_more_then_final :
    ∃ s2 s3 : St, Reach s2 ∧ Reach s3 ∧ s2.more 0 = 1 ∧ s2.resumed 0 = 0 ∧ s2.lent 5 = some 0 ∧
      s3.more 0 = 1 ∧ s3.resumed 0 = 1 ∧ s3.lent 5 = none := by
  have hk1 : ∀ w, (s1.slots 0).gen = 1 → (s1.slots 0).waiter = some w → w.onRing = true :=
    fun w _ h => by rw [(s1_slot 0 w h).2]; rfl
  have r2 : Reach (dispatch s1 ⟨1, 0⟩ true) :=
    Reach.step s1_reach (Step.cqe s1 ⟨1, 0⟩ true hk1)
  have hk2 : ∀ w, ((dispatch s1 ⟨1, 0⟩ true).slots 0).gen = 1 →
      ((dispatch s1 ⟨1, 0⟩ true).slots 0).waiter = some w → w.onRing = true := by
    rw [(dispatch_more s1 ⟨1, 0⟩).1]; exact hk1
  have r3 := Reach.step r2 (Step.cqe _ ⟨1, 0⟩ false hk2)
  exact ⟨_, _, r2, r3, rfl, rfl, rfl, rfl, rfl, rfl⟩

/-- Switch 0 fails while continuation 0's operation is in flight: the waiter stays parked,
with its one cancel sent. -/
theorem Sched.witness_fail_cancel :
    ∃ s i w, Reach s ∧ s.failed 0 = true ∧ (s.slots i).waiter = some w ∧ w.sw = 0 ∧
      w.onRing = true ∧ s.cancelSent w.cont = true ∧ s.nCancel w.cont = 1 := by
  have hyes : ∀ c, toCancel s1 0 c →
      upd s1.cancelSent 0 true c = true ∧ upd s1.nCancel 0 1 c = s1.nCancel c + 1 :=
    fun c ⟨⟨j, w, h, hc, _, _⟩, _⟩ => by
      rw [(s1_slot j w h).2] at hc
      rw [← hc]
      exact ⟨rfl, rfl⟩
  have hno : ∀ c, ¬ toCancel s1 0 c →
      upd s1.cancelSent 0 true c = s1.cancelSent c ∧ upd s1.nCancel 0 1 c = s1.nCancel c :=
    fun c ht => by
      have hc : c ≠ 0 := fun e => by
        rw [e] at ht
        exact ht ⟨⟨0, w0, park_slot_i init 0 w0, rfl, rfl, rfl⟩, rfl⟩
      exact ⟨upd_other _ _ _ hc, upd_other _ _ _ hc⟩
  have r := Reach.step s1_reach (Step.fail s1 0 _ _ rfl hyes hno)
  exact ⟨_, 0, w0, r, rfl, park_slot_i init 0 w0, rfl, rfl, rfl, rfl⟩

def Sched.wa : Waiter := { cont := 0, sw := 0, onRing := false, buf := none, wait := some 3 }

def Sched.sa : St := park init 0 wa

def Sched.sr : St :=
  { sa with prom := upd sa.prom 3 (some 7), nResolve := upd sa.nResolve 3 (sa.nResolve 3 + 1) }

/-- Continuation 0 awaits the unresolved promise 3 (parked off the ring), promise 3 is resolved
to 7, the waiter is woken, and the await returns 7. -/
theorem Sched.witness_await :
    ∃ s, Reach s ∧ s.ret 0 = some (3, 7) ∧ s.prom 3 = some 7 ∧ s.resumed 0 = 1 := by
  have r1 : Reach sa :=
    Reach.step Reach.init (Step.awaitPark init 0 0 3 rfl rfl rfl rfl)
  have r2 : Reach sr := Reach.step r1 (Step.resolve _ 3 7 rfl)
  have r3 : Reach (finishRet sr 0 wa 3 7) :=
    Reach.step r2 (Step.wakePromise sr 0 3 7 wa (park_slot_i init 0 wa) rfl rfl rfl)
  exact ⟨_, r3, rfl, rfl, rfl⟩

end Ring
