/-
Ring.Bridge: u32 facts that need the invariants.  The C code's full check decides the model's
`uGetSqe` guard, and every index a legal step reports lies within a capacity of the copy the
trace checker unwraps it against, so `trace_index` applies to every line of a legal trace.
-/
import Ring.Sq
import Ring.Cq
import Ring.U32

namespace Ring

theorem subU32_mod_left (x y : Nat) : subU32 (x % u32Size) y = subU32 x y := by
  show (x % u32Size % u32Size + (u32Size - y % u32Size)) % u32Size
    = (x % u32Size + (u32Size - y % u32Size)) % u32Size
  rw [mod_mod _ _ u32Size_pos]

theorem subU32_mod_right (x y : Nat) : subU32 x (y % u32Size) = subU32 x y := by
  show (x % u32Size + (u32Size - y % u32Size % u32Size)) % u32Size
    = (x % u32Size + (u32Size - y % u32Size)) % u32Size
  rw [mod_mod _ _ u32Size_pos]

/-- The u32 full check on counters offset by `start` agrees with the `Nat` comparison whenever
`b ≤ a ≤ b + cap` and `cap < 2^32`. -/
theorem guard_u32 (start : Nat) {a b cap : Nat} (hba : b ≤ a) (hab : a ≤ b + cap)
    (hcap : cap < u32Size) :
    subU32 ((start + a) % u32Size) ((start + b) % u32Size) < cap ↔ a < b + cap := by
  cases Nat.le.dest hba with
  | intro δ hδ =>
    have hδcap : δ ≤ cap := by rw [← hδ] at hab; exact le_of_add_le_add_left hab
    have e : start + a = (start + b) + δ := by rw [← hδ, Nat.add_assoc]
    have hsub : subU32 ((start + a) % u32Size) ((start + b) % u32Size) = δ := by
      rw [subU32_mod_left, subU32_mod_right]
      exact subU32_exact e (Nat.ltOfLeOfLt hδcap hcap)
    rw [hsub, ← hδ]
    exact ⟨fun h => Nat.addLtAddLeft h b, fun h => lt_of_add_lt_add_left h⟩

/-- In every reachable state, the C test "not full" on the u32 copies of `sqe_tail` and
`head_seen` is the model's `uGetSqe` guard. -/
theorem sq_guard_u32 {s : St} (r : Reach s) (start : Nat) (hcap : s.cap < u32Size) :
    subU32 ((start + s.sqeTail) % u32Size) ((start + s.headSeen) % u32Size) < s.cap ↔
      s.sqeTail < s.headSeen + s.cap := by
  have inv := reach_invSq r
  have hle : s.headSeen ≤ s.sqeTail :=
    Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeK (Nat.leTrans inv.kLeSeen
      (Nat.leTrans inv.seenLeTail inv.tailLeSqe)))
  exact guard_u32 start hle inv.full hcap

/-- A value between a copy and the current index, which is at most `c` ahead of the copy. -/
theorem window {seen v cur c : Nat} (h1 : seen ≤ v) (h2 : v ≤ cur) (h3 : cur ≤ seen + c) :
    ∃ δ, v = seen + δ ∧ δ ≤ c :=
  match Nat.le.dest h1 with
  | ⟨δ, hδ⟩ => ⟨δ, hδ.symm, le_of_add_le_add_left (by rw [hδ]; exact Nat.leTrans h2 h3)⟩

/-- `uLoadHead h`: `h` is within `cap` of the user's `headSeen`. -/
theorem window_uLoadHead {s : St} (r : Reach s) {h : Nat} (h1 : s.headSeen ≤ h) (h2 : h ≤ s.sqHead) :
    ∃ δ, h = s.headSeen + δ ∧ δ ≤ s.cap :=
  let inv := reach_invSq r
  window h1 h2 (Nat.leTrans inv.headLeK (Nat.leTrans inv.kLeSeen (Nat.leTrans inv.seenLeTail
    (Nat.leTrans inv.tailLeSqe inv.full))))

/-- `kLoadTail t`: `t` is within `cap` of the kernel's `kTailSeen`. -/
theorem window_kLoadTail {s : St} (r : Reach s) {t : Nat} (h1 : s.kTailSeen ≤ t) (h2 : t ≤ s.sqTail) :
    ∃ δ, t = s.kTailSeen + δ ∧ δ ≤ s.cap :=
  let inv := reach_invSq r
  window h1 h2 (Nat.leTrans inv.tailLeSqe (Nat.leTrans inv.full (Nat.addLeAddRight
    (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeK inv.kLeSeen)) s.cap)))

/-- `kLoadCqHead h`: `h` is within `cqCap` of the kernel's `cqHeadSeen`. -/
theorem window_kLoadCqHead {s : St} (r : Reach s) {h : Nat} (h1 : s.cqHeadSeen ≤ h)
    (h2 : h ≤ s.cqHead) : ∃ δ, h = s.cqHeadSeen + δ ∧ δ ≤ s.cqCap :=
  let inv := reach_invCq r
  window h1 h2 (Nat.leTrans inv.headLeU (Nat.leTrans (uLe_cqe inv) inv.full))

/-- `uLoadCqTail t`: `t` is within `cqCap` of the user's `uCqTailSeen`. -/
theorem window_uLoadCqTail {s : St} (r : Reach s) {t : Nat} (h1 : s.uCqTailSeen ≤ t)
    (h2 : t ≤ s.cqTail) : ∃ δ, t = s.uCqTailSeen + δ ∧ δ ≤ s.cqCap :=
  let inv := reach_invCq r
  window h1 h2 (Nat.leTrans inv.tailLeCqe (Nat.leTrans inv.full (Nat.addLeAddRight
    (Nat.leTrans inv.seenLeHead (Nat.leTrans inv.headLeU inv.uLeSeen)) s.cqCap)))

/-- Hence the checker reads such a value back exactly, for any capacity up to 2^31 (the kernel
allows at most 2^16). -/
theorem unwrap_window (start : Nat) {ref v c : Nat} (hc : c < half) (h : ∃ δ, v = ref + δ ∧ δ ≤ c) :
    unwrap ref (subU32 ((start + v) % u32Size) start) = some v :=
  match h with
  | ⟨δ, hv, hδ⟩ => trace_index (Or.inl ⟨δ, hv, Nat.ltOfLeOfLt hδ hc⟩)

end Ring
