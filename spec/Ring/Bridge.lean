/-
Ring.Bridge: the C code's u32 full check decides the model's `uGetSqe` guard.  liburing and
`lu_ring_get_sqe` test `(u32)(sqe_tail - head_seen) >= capacity` on counters that started at an
arbitrary `start`; in every reachable state that is exactly `¬ (sqeTail < headSeen + cap)`.
-/
import Ring.Sq
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

end Ring
