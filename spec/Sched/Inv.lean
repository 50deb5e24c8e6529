/-
Sched.Inv: one invariant of every reachable state (`Sched.reach_inv`), proved step by step.
The theorems stated for readers are in Sched.Theorems.
-/
import Sched.Basic

namespace Ring
open Sched

/-- What holds in every reachable state. -/
structure Sched.Inv (s : St) : Prop where
  lt : ∀ i w, (s.slots i).waiter = some w → w.cont < s.next
  uniq : ∀ i j wi wj, (s.slots i).waiter = some wi → (s.slots j).waiter = some wj →
    wi.cont = wj.cont → i = j
  parked : ∀ c, (∃ i w, (s.slots i).waiter = some w ∧ w.cont = c) ↔
    (s.parkedIn c ≠ none ∧ s.resumed c = 0)
  swOf : ∀ i w, (s.slots i).waiter = some w → s.parkedIn w.cont = some w.sw
  once : ∀ c, s.resumed c ≤ 1
  fresh : ∀ c, s.next ≤ c → s.parkedIn c = none ∧ s.resumed c = 0
  lentIff : ∀ b c, s.lent b = some c ↔
    ∃ i w, (s.slots i).waiter = some w ∧ w.cont = c ∧ w.buf = some b
  cancel1 : ∀ c, (s.cancelSent c = false → s.nCancel c = 0) ∧ (s.cancelSent c = true → s.nCancel c = 1)
  failSent : ∀ sw i w, s.failed sw = true → (s.slots i).waiter = some w → w.sw = sw →
    w.onRing = true → s.cancelSent w.cont = true
  endedNone : ∀ sw i w, s.ended sw = true → (s.slots i).waiter = some w → w.sw ≠ sw
  resolve1 : ∀ p, (s.prom p = none → s.nResolve p = 0) ∧ (s.prom p ≠ none → s.nResolve p = 1)
  retOk : ∀ c p v, s.ret c = some (p, v) → s.prom p = some v
  bufRing : ∀ i w, (s.slots i).waiter = some w → w.buf ≠ none → w.onRing = true

theorem Sched.ne_of_lt' {a b : Nat} (h : a < b) : a ≠ b := fun e => by
  rw [e] at h; exact Nat.ltIrrefl _ h

theorem Sched.some_ne_none {α : Type} {a : α} {o : Option α} (h : o = some a) : o ≠ none :=
  fun e => by rw [e] at h; exact Option.noConfusion h

theorem Sched.inv_init : Inv init where
  lt := fun _ _ h => Option.noConfusion h
  uniq := fun _ _ _ _ h => Option.noConfusion h
  parked := fun c => ⟨fun ⟨_, _, h, _⟩ => Option.noConfusion h, fun ⟨h, _⟩ => absurd rfl h⟩
  swOf := fun _ _ h => Option.noConfusion h
  once := fun _ => Nat.zeroLe _
  fresh := fun _ _ => ⟨rfl, rfl⟩
  lentIff := fun _ _ => ⟨fun h => Option.noConfusion h, fun ⟨_, _, h, _⟩ => Option.noConfusion h⟩
  cancel1 := fun _ => ⟨fun _ => rfl, fun h => Bool.noConfusion h⟩
  failSent := fun _ _ _ h => Bool.noConfusion h
  endedNone := fun _ _ _ h => Bool.noConfusion h
  resolve1 := fun _ => ⟨fun _ => rfl, fun h => absurd rfl h⟩
  retOk := fun _ _ _ h => Option.noConfusion h
  bufRing := fun _ _ h => Option.noConfusion h

theorem Sched.inv_finish (s : St) (i : Nat) (w : Waiter) (hI : Inv s)
    (hw : (s.slots i).waiter = some w) : Inv (finish s i w) where
  lt := fun j w' h => hI.lt j w' (finish_slot_waiter s i w j w' h).2
  uniq := fun j k wj wk hj hk hc =>
    hI.uniq j k wj wk (finish_slot_waiter s i w j wj hj).2 (finish_slot_waiter s i w k wk hk).2 hc
  parked := fun c => by
    apply Iff.intro
    · intro ⟨j, w', h, hc⟩
      have ⟨hji, h'⟩ := finish_slot_waiter s i w j w' h
      have ⟨hp, hr⟩ := (hI.parked c).mp ⟨j, w', h', hc⟩
      have hcw : c ≠ w.cont := fun e => hji (hI.uniq j i w' w h' hw (hc.trans e))
      exact ⟨hp, (upd_other s.resumed w.cont _ hcw).trans hr⟩
    · intro ⟨hp, hr⟩
      byCases hcw : c = w.cont
      · rw [hcw] at hr
        have e : (finish s i w).resumed w.cont = s.resumed w.cont + 1 := upd_same _ _ _
        rw [e] at hr
        exact absurd hr (Nat.succNeZero _)
      · have hr' : s.resumed c = 0 := (upd_other s.resumed w.cont _ hcw).symm.trans hr
        have ⟨j, w', h, hc⟩ := (hI.parked c).mpr ⟨hp, hr'⟩
        have hji : j ≠ i := fun e => by
          rw [e, hw] at h
          rw [← Option.some.inj h] at hc
          exact hcw hc.symm
        refine ⟨j, w', ?_, hc⟩
        rw [finish_slot_old s i w hji]
        exact h
  swOf := fun j w' h => hI.swOf j w' (finish_slot_waiter s i w j w' h).2
  once := fun c => by
    byCases hcw : c = w.cont
    · rw [hcw]
      have e : (finish s i w).resumed w.cont = s.resumed w.cont + 1 := upd_same _ _ _
      rw [e, ((hI.parked w.cont).mp ⟨i, w, hw, rfl⟩).2]
      exact Nat.leRefl _
    · have e : (finish s i w).resumed c = s.resumed c := upd_other _ _ _ hcw
      rw [e]
      exact hI.once c
  fresh := fun c hc => by
    have hcw : c ≠ w.cont := fun e => by
      have := hI.lt i w hw
      rw [← e] at this
      exact Nat.ltIrrefl _ (Nat.ltOfLtOfLe this hc)
    have e : (finish s i w).resumed c = s.resumed c := upd_other _ _ _ hcw
    rw [e]
    exact hI.fresh c hc
  lentIff := fun b c => by
    have hl : (finish s i w).lent b = if s.lent b = some w.cont then none else s.lent b := rfl
    rw [hl]
    apply Iff.intro
    · intro h
      byCases hb : s.lent b = some w.cont
      · rw [ifPos hb] at h; exact Option.noConfusion h
      · rw [ifNeg hb] at h
        have ⟨j, w', h1, hc, hbuf⟩ := (hI.lentIff b c).mp h
        have hji : j ≠ i := fun e => by
          rw [e, hw] at h1
          rw [← Option.some.inj h1] at hc
          rw [← hc] at h
          exact hb h
        refine ⟨j, w', ?_, hc, hbuf⟩
        rw [finish_slot_old s i w hji]
        exact h1
    · intro ⟨j, w', h1, hc, hbuf⟩
      have ⟨hji, h1'⟩ := finish_slot_waiter s i w j w' h1
      have hl' := (hI.lentIff b c).mpr ⟨j, w', h1', hc, hbuf⟩
      have hb : ¬ s.lent b = some w.cont := fun e => by
        rw [hl'] at e
        have e' := Option.some.inj e
        rw [← hc] at e'
        exact hji (hI.uniq j i w' w h1' hw e')
      rw [ifNeg hb]
      exact hl'
  cancel1 := hI.cancel1
  failSent := fun sw j w' hf h => hI.failSent sw j w' hf (finish_slot_waiter s i w j w' h).2
  endedNone := fun sw j w' hf h => hI.endedNone sw j w' hf (finish_slot_waiter s i w j w' h).2
  resolve1 := hI.resolve1
  retOk := hI.retOk
  bufRing := fun j w' h => hI.bufRing j w' (finish_slot_waiter s i w j w' h).2

theorem Sched.inv_park (s : St) (i : Nat) (w0 : Waiter) (hI : Inv s)
    (hfree : (s.slots i).waiter = none) (hcont : w0.cont = s.next)
    (hok : s.failed w0.sw = false) (hend : s.ended w0.sw = false)
    (hbuf : ∀ b, w0.buf = some b → s.lent b = none) (hbr : w0.buf ≠ none → w0.onRing = true) :
    Inv (park s i w0) where
  lt := fun j w' h => by
    cases park_slot_waiter s i w0 j w' h with
    | inl e => rw [e.2, hcont]; exact Nat.ltSuccSelf _
    | inr e => exact Nat.ltTrans (hI.lt j w' e.2) (Nat.ltSuccSelf _)
  uniq := fun j k wj wk hj hk hc => by
    cases park_slot_waiter s i w0 j wj hj with
    | inl ej =>
      cases park_slot_waiter s i w0 k wk hk with
      | inl ek => rw [ej.1, ek.1]
      | inr ek =>
        have := hI.lt k wk ek.2
        rw [← hc, ej.2, hcont] at this
        exact absurd this (Nat.ltIrrefl _)
    | inr ej =>
      cases park_slot_waiter s i w0 k wk hk with
      | inl ek =>
        have := hI.lt j wj ej.2
        rw [hc, ek.2, hcont] at this
        exact absurd this (Nat.ltIrrefl _)
      | inr ek => exact hI.uniq j k wj wk ej.2 ek.2 hc
  parked := fun c => by
    apply Iff.intro
    · intro ⟨j, w', h, hc⟩
      cases park_slot_waiter s i w0 j w' h with
      | inl e =>
        rw [e.2] at hc
        rw [← hc]
        have e1 : (park s i w0).parkedIn w0.cont = some w0.sw := upd_same _ _ _
        rw [e1]
        refine ⟨fun e => Option.noConfusion e, ?_⟩
        show s.resumed w0.cont = 0
        rw [hcont]
        exact (hI.fresh s.next (Nat.leRefl _)).2
      | inr e =>
        have ⟨hp, hr⟩ := (hI.parked c).mp ⟨j, w', e.2, hc⟩
        have hcn : c ≠ w0.cont := by
          rw [hcont, ← hc]; exact ne_of_lt' (hI.lt j w' e.2)
        have e1 : (park s i w0).parkedIn c = s.parkedIn c := upd_other _ _ _ hcn
        rw [e1]
        exact ⟨hp, hr⟩
    · intro ⟨hp, hr⟩
      byCases hcn : c = w0.cont
      · exact ⟨i, w0, park_slot_i s i w0, hcn.symm⟩
      · have e1 : (park s i w0).parkedIn c = s.parkedIn c := upd_other _ _ _ hcn
        rw [e1] at hp
        have ⟨j, w', h, hc⟩ := (hI.parked c).mpr ⟨hp, hr⟩
        have hji : j ≠ i := fun e => by rw [e, hfree] at h; exact Option.noConfusion h
        refine ⟨j, w', ?_, hc⟩
        rw [park_slot_old s i w0 hji]
        exact h
  swOf := fun j w' h => by
    cases park_slot_waiter s i w0 j w' h with
    | inl e => rw [e.2]; exact upd_same _ _ _
    | inr e =>
      have hcn : w'.cont ≠ w0.cont := by rw [hcont]; exact ne_of_lt' (hI.lt j w' e.2)
      exact (upd_other s.parkedIn w0.cont _ hcn).trans (hI.swOf j w' e.2)
  once := hI.once
  fresh := fun c hc => by
    have hcn : c ≠ w0.cont := fun e => by
      rw [e, hcont] at hc; exact Nat.notSuccLeSelf _ hc
    have e1 : (park s i w0).parkedIn c = s.parkedIn c := upd_other _ _ _ hcn
    rw [e1]
    exact hI.fresh c (Nat.leOfSuccLe hc)
  lentIff := fun b c => by
    have old : ∀ j w', (s.slots j).waiter = some w' → ((park s i w0).slots j).waiter = some w' :=
      fun j w' h => by
        have hji : j ≠ i := fun e => by rw [e, hfree] at h; exact Option.noConfusion h
        rw [park_slot_old s i w0 hji]; exact h
    cases hb0 : w0.buf with
    | none =>
      have hl : (park s i w0).lent = s.lent := by
        show lendTo s.lent w0.buf w0.cont = s.lent
        rw [hb0]; rfl
      rw [hl]
      apply Iff.intro
      · intro h
        have ⟨j, w', h1, hc, hbuf⟩ := (hI.lentIff b c).mp h
        exact ⟨j, w', old j w' h1, hc, hbuf⟩
      · intro ⟨j, w', h1, hc, hbuf⟩
        cases park_slot_waiter s i w0 j w' h1 with
        | inl e => rw [e.2, hb0] at hbuf; exact Option.noConfusion hbuf
        | inr e => exact (hI.lentIff b c).mpr ⟨j, w', e.2, hc, hbuf⟩
    | some b0 =>
      have hl : (park s i w0).lent = upd s.lent b0 (some w0.cont) := by
        show lendTo s.lent w0.buf w0.cont = _
        rw [hb0]; rfl
      rw [hl]
      apply Iff.intro
      · intro h
        byCases hbb : b = b0
        · rw [hbb, upd_same] at h
          rw [hbb]
          exact ⟨i, w0, park_slot_i s i w0, Option.some.inj h, hb0⟩
        · rw [upd_other _ _ _ hbb] at h
          have ⟨j, w', h1, hc, hbuf⟩ := (hI.lentIff b c).mp h
          exact ⟨j, w', old j w' h1, hc, hbuf⟩
      · intro ⟨j, w', h1, hc, hbw⟩
        cases park_slot_waiter s i w0 j w' h1 with
        | inl e =>
          rw [e.2, hb0] at hbw
          rw [e.2] at hc
          rw [← Option.some.inj hbw, upd_same, hc]
        | inr e =>
          have hl' := (hI.lentIff b c).mpr ⟨j, w', e.2, hc, hbw⟩
          have hbb : b ≠ b0 := fun eb => by
            rw [eb, hbuf b0 hb0] at hl'; exact Option.noConfusion hl'
          rw [upd_other _ _ _ hbb]
          exact hl'
  cancel1 := hI.cancel1
  failSent := fun sw j w' hf h hsw hr => by
    cases park_slot_waiter s i w0 j w' h with
    | inl e =>
      rw [e.2] at hsw; rw [hsw] at hok
      exact Bool.noConfusion (hok.symm.trans (hf : s.failed sw = true))
    | inr e => exact hI.failSent sw j w' hf e.2 hsw hr
  endedNone := fun sw j w' hf h hsw => by
    cases park_slot_waiter s i w0 j w' h with
    | inl e =>
      rw [e.2] at hsw; rw [hsw] at hend
      exact Bool.noConfusion (hend.symm.trans (hf : s.ended sw = true))
    | inr e => exact hI.endedNone sw j w' hf e.2 hsw
  resolve1 := hI.resolve1
  retOk := hI.retOk
  bufRing := fun j w' h => by
    cases park_slot_waiter s i w0 j w' h with
    | inl e => rw [e.2]; exact hbr
    | inr e => exact hI.bufRing j w' e.2

theorem Sched.inv_finishRet (s : St) (i : Nat) (w : Waiter) (p v : Nat) (hI : Inv s)
    (hw : (s.slots i).waiter = some w) (hp : s.prom p = some v) : Inv (finishRet s i w p v) :=
  let h := inv_finish s i w hI hw
  { lt := h.lt, uniq := h.uniq, parked := h.parked, swOf := h.swOf, once := h.once,
    fresh := h.fresh, lentIff := h.lentIff, cancel1 := h.cancel1, failSent := h.failSent,
    endedNone := h.endedNone, resolve1 := h.resolve1, bufRing := h.bufRing,
    retOk := fun c q u hr => by
      byCases hc : c = w.cont
      · rw [hc] at hr
        have e : (finishRet s i w p v).ret w.cont = some (p, v) := upd_same _ _ _
        rw [e] at hr
        have e2 := Option.some.inj hr
        have hq : p = q := congrArg Prod.fst e2
        have hu : v = u := congrArg Prod.snd e2
        rw [← hq, ← hu]
        exact hp
      · have e : (finishRet s i w p v).ret c = s.ret c := upd_other _ _ _ hc
        rw [e] at hr
        exact hI.retOk c q u hr }

theorem Sched.inv_more (s : St) (c n : Nat) (hI : Inv s) :
    Inv { s with more := upd s.more c n } :=
  { lt := hI.lt, uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
    fresh := hI.fresh, lentIff := hI.lentIff, cancel1 := hI.cancel1, failSent := hI.failSent,
    endedNone := hI.endedNone, resolve1 := hI.resolve1, retOk := hI.retOk, bufRing := hI.bufRing }

theorem Sched.inv_step {s s' : St} (hI : Inv s) (st : Step s s') : Inv s' := by
  cases st with
  | submit s i sw buf hfree hok hend hbuf => exact inv_park s i _ hI hfree rfl hok hend hbuf (fun _ => rfl)
  | awaitPark s i sw p hfree hok hend hp =>
    exact inv_park s i _ hI hfree rfl hok hend (fun b h => Option.noConfusion h)
      (fun h => absurd rfl h)
  | awaitReady s p v hp =>
    exact {
      lt := fun i w h => Nat.ltTrans (hI.lt i w h) (Nat.ltSuccSelf _),
      uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
      fresh := fun c hc => hI.fresh c (Nat.leOfSuccLe hc),
      lentIff := hI.lentIff, cancel1 := hI.cancel1, failSent := hI.failSent,
      endedNone := hI.endedNone, resolve1 := hI.resolve1, bufRing := hI.bufRing,
      retOk := fun c q u hr0 => by
        have hr : upd s.ret s.next (some (p, v)) c = some (q, u) := hr0
        show s.prom q = some u
        byCases hc : c = s.next
        · rw [hc] at hr
          have e : (upd s.ret s.next (some (p, v))) s.next = some (p, v) := upd_same _ _ _
          rw [e] at hr
          have e2 := Option.some.inj hr
          have hq : p = q := congrArg Prod.fst e2
          have hu : v = u := congrArg Prod.snd e2
          rw [← hq, ← hu]
          exact hp
        · have e : (upd s.ret s.next (some (p, v))) c = s.ret c := upd_other _ _ _ hc
          rw [e] at hr
          exact hI.retOk c q u hr }
  | cqe s t fmore hk =>
    cases dispatch_cases s t fmore with
    | inl e => rw [e]; exact hI
    | inr e =>
      have ⟨w, _, hw, hc⟩ := e
      cases hc with
      | inl h => rw [h.2]; exact inv_more s w.cont _ hI
      | inr h => rw [h.2]; exact inv_finish s t.idx w hI hw
  | cancelOp s i w hw hr hc =>
    exact {
      lt := hI.lt, uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
      fresh := hI.fresh, lentIff := hI.lentIff,
      cancel1 := fun c => by
        show (upd s.cancelSent w.cont true c = false → upd s.nCancel w.cont (s.nCancel w.cont + 1) c = 0) ∧
          (upd s.cancelSent w.cont true c = true → upd s.nCancel w.cont (s.nCancel w.cont + 1) c = 1)
        byCases hcw : c = w.cont
        · rw [hcw]
          have e1 : (upd s.cancelSent w.cont true) w.cont = true := upd_same _ _ _
          have e2 : (upd s.nCancel w.cont (s.nCancel w.cont + 1)) w.cont = s.nCancel w.cont + 1 :=
            upd_same _ _ _
          rw [e1, e2, (hI.cancel1 w.cont).1 hc]
          exact ⟨fun h => Bool.noConfusion h, fun _ => rfl⟩
        · have e1 : (upd s.cancelSent w.cont true) c = s.cancelSent c := upd_other _ _ _ hcw
          have e2 : (upd s.nCancel w.cont (s.nCancel w.cont + 1)) c = s.nCancel c :=
            upd_other _ _ _ hcw
          rw [e1, e2]
          exact hI.cancel1 c,
      failSent := fun sw j w' hf h hsw hr' => by
        show upd s.cancelSent w.cont true w'.cont = true
        byCases hcw : w'.cont = w.cont
        · rw [hcw]; exact upd_same _ _ _
        · have e1 : (upd s.cancelSent w.cont true) w'.cont = s.cancelSent w'.cont := upd_other _ _ _ hcw
          rw [e1]
          exact hI.failSent sw j w' hf h hsw hr',
      endedNone := hI.endedNone, resolve1 := hI.resolve1, retOk := hI.retOk, bufRing := hI.bufRing }
  | fail s sw cs nc hf hyes hno =>
    exact {
      lt := hI.lt, uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
      fresh := hI.fresh, lentIff := hI.lentIff,
      cancel1 := fun c => by
        cases Classical.em (toCancel s sw c) with
        | inl ht =>
          have ⟨e1, e2⟩ := hyes c ht
          show (cs c = false → nc c = 0) ∧ (cs c = true → nc c = 1)
          rw [e1, e2, (hI.cancel1 c).1 ht.2]
          exact ⟨fun h => Bool.noConfusion h, fun _ => rfl⟩
        | inr ht =>
          have ⟨e1, e2⟩ := hno c ht
          show (cs c = false → nc c = 0) ∧ (cs c = true → nc c = 1)
          rw [e1, e2]
          exact hI.cancel1 c,
      failSent := fun sw' j w' hf' h hsw hr => by
        show cs w'.cont = true
        cases hcs : s.cancelSent w'.cont with
        | true =>
          have ht : ¬ toCancel s sw w'.cont := fun ht => by
            exact Bool.noConfusion (hcs.symm.trans ht.2)
          rw [(hno _ ht).1, hcs]
        | false =>
          byCases hss : sw' = sw
          · rw [hss] at hsw
            exact (hyes _ ⟨⟨j, w', h, rfl, hsw, hr⟩, hcs⟩).1
          · have hf2 : s.failed sw' = true := by
              have e : (upd s.failed sw true) sw' = s.failed sw' := upd_other _ _ _ hss
              rw [← e]; exact hf'
            have := hI.failSent sw' j w' hf2 h hsw hr
            rw [hcs] at this
            exact Bool.noConfusion this,
      endedNone := hI.endedNone, resolve1 := hI.resolve1, retOk := hI.retOk, bufRing := hI.bufRing }
  | wakeCancelled s i w hw _ _ => exact inv_finish s i w hI hw
  | wakeDeadlock s i w hw _ _ => exact inv_finish s i w hI hw
  | resolve s p v hp =>
    exact {
      lt := hI.lt, uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
      fresh := hI.fresh, lentIff := hI.lentIff, cancel1 := hI.cancel1, failSent := hI.failSent,
      endedNone := hI.endedNone, bufRing := hI.bufRing,
      resolve1 := fun q => by
        show (upd s.prom p (some v) q = none → upd s.nResolve p (s.nResolve p + 1) q = 0) ∧
          (upd s.prom p (some v) q ≠ none → upd s.nResolve p (s.nResolve p + 1) q = 1)
        byCases hq : q = p
        · rw [hq]
          have e1 : (upd s.prom p (some v)) p = some v := upd_same _ _ _
          have e2 : (upd s.nResolve p (s.nResolve p + 1)) p = s.nResolve p + 1 := upd_same _ _ _
          rw [e1, e2, (hI.resolve1 p).1 hp]
          exact ⟨fun h => Option.noConfusion h, fun _ => rfl⟩
        · have e1 : (upd s.prom p (some v)) q = s.prom q := upd_other _ _ _ hq
          have e2 : (upd s.nResolve p (s.nResolve p + 1)) q = s.nResolve q := upd_other _ _ _ hq
          rw [e1, e2]
          exact hI.resolve1 q,
      retOk := fun c q u hr => by
        have h := hI.retOk c q u hr
        show upd s.prom p (some v) q = some u
        have hq : q ≠ p := fun e => by rw [e, hp] at h; exact Option.noConfusion h
        have e1 : (upd s.prom p (some v)) q = s.prom q := upd_other _ _ _ hq
        rw [e1]
        exact h }
  | wakePromise s i p v w hw _ _ hp => exact inv_finishRet s i w p v hI hw hp
  | endRun s sw _ hnone =>
    exact {
      lt := hI.lt, uniq := hI.uniq, parked := hI.parked, swOf := hI.swOf, once := hI.once,
      fresh := hI.fresh, lentIff := hI.lentIff, cancel1 := hI.cancel1, failSent := hI.failSent,
      endedNone := fun sw' j w' he h => by
        byCases hss : sw' = sw
        · rw [hss]; exact hnone j w' h
        · have e : (upd s.ended sw true) sw' = s.ended sw' := upd_other _ _ _ hss
          have he' : s.ended sw' = true := by rw [← e]; exact he
          exact hI.endedNone sw' j w' he' h,
      resolve1 := hI.resolve1, retOk := hI.retOk, bufRing := hI.bufRing }

/-- The invariant holds in every reachable state. -/
theorem Sched.reach_inv {s : St} (r : Reach s) : Inv s := by
  induction r with
  | init => exact inv_init
  | step _ st ih => exact inv_step ih st

end Ring
