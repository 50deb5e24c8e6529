/-
Ring.Arith: the few facts about `Nat` that the ring proofs need and that 2021 core lacks.
The one non-linear fact is slot aliasing: two indices less than a capacity apart never share a
slot (`slot_ne`).
-/
namespace Ring

theorem add_sub_cancel (a b : Nat) : (a + b) - b = a := by
  induction b with
  | zero => rfl
  | succ b ih => exact (Nat.succ_sub_succ (a + b) b).trans ih

theorem add_sub_cancel_left (a b : Nat) : (a + b) - a = b := by
  rw [Nat.add_comm]; exact add_sub_cancel b a

theorem lt_of_add_lt_add_left {k a b : Nat} (h : k + a < k + b) : a < b := by
  induction k with
  | zero => rw [Nat.zero_add, Nat.zero_add] at h; exact h
  | succ k ih =>
    rw [Nat.succ_add, Nat.succ_add] at h
    exact ih (Nat.lt_of_succ_lt_succ h)

theorem le_of_add_le_add_left {k a b : Nat} (h : k + a ≤ k + b) : a ≤ b := by
  induction k with
  | zero => rw [Nat.zero_add, Nat.zero_add] at h; exact h
  | succ k ih =>
    rw [Nat.succ_add, Nat.succ_add] at h
    exact ih (Nat.leOfSuccLeSucc h)

theorem lt_irrefl (a : Nat) : ¬ a < a := Nat.ltIrrefl a

theorem lt_add_of_pos (a : Nat) {n : Nat} (h : 0 < n) : a < a + n := by
  have h2 := Nat.addLtAddLeft h a
  rw [Nat.add_zero] at h2
  exact h2

theorem mod_add_self (a n : Nat) : (a + n) % n = a % n := by
  rw [Nat.mod_eq_sub_mod (Nat.leAddLeft n a), add_sub_cancel]

theorem pow2_pos : ∀ k, 0 < 2 ^ k
  | 0 => by decide
  | k + 1 => by
    rw [Nat.powSucc]
    exact Nat.mulPos (pow2_pos k) (by decide)

/-- Fuelled form of aliasing: `(i + d) % n = i % n` with `d < n` forces `d = 0`. -/
theorem mod_window_aux (n : Nat) (hn : 0 < n) :
    ∀ B i, i < B → ∀ d, d < n → (i + d) % n = i % n → d = 0 := by
  intro B
  induction B with
  | zero => intro i hi; exact absurd hi (Nat.notLtZero i)
  | succ B ih =>
    intro i hi d hd heq
    cases Nat.ltOrGe i n with
    | inl hin =>
      rw [Nat.mod_eq_of_lt hin] at heq
      cases Nat.ltOrGe (i + d) n with
      | inl hsum =>
        rw [Nat.mod_eq_of_lt hsum] at heq
        have h0 : i + d = i + 0 := heq
        exact Nat.add_left_cancel h0
      | inr hsum =>
        cases Nat.le.dest hsum with
        | intro e he =>
          -- i + d = n + e, and e < n because i + d < n + n
          have hlt : n + e < n + n := by
            rw [he]; exact Nat.addLtAdd hin hd
          have he' : e < n := lt_of_add_lt_add_left hlt
          rw [← he, Nat.add_comm n e, mod_add_self, Nat.mod_eq_of_lt he'] at heq
          -- heq : e = i, so i + d = n + i, so d = n: contradiction
          rw [heq, Nat.add_comm n i] at he
          have : d = n := (Nat.add_left_cancel he).symm
          rw [this] at hd
          exact absurd hd (lt_irrefl n)
    | inr hin =>
      cases Nat.le.dest hin with
      | intro i' hi' =>
        have hi'B : i' < B := by
          have h1 : i' + n < B + 1 := by rw [Nat.add_comm, hi']; exact hi
          have h2 : i' + 1 ≤ i' + n := Nat.addLeAddLeft hn i'
          exact Nat.leOfSuccLeSucc (Nat.leTrans (Nat.succLeSucc h2) h1)
        apply ih i' hi'B d hd
        have e1 : i + d = (i' + d) + n := by
          rw [← hi', Nat.add_comm n i', Nat.add_assoc, Nat.add_comm n d, ← Nat.add_assoc]
        have e2 : i = i' + n := by rw [← hi', Nat.add_comm]
        rw [e1, e2, mod_add_self, mod_add_self] at heq
        exact heq

/-- Slot aliasing: indices `i ≤ j < i + n` share a slot only if they are equal. -/
theorem mod_inj_window {n i j : Nat} (hn : 0 < n) (hij : i ≤ j) (hj : j < i + n)
    (heq : i % n = j % n) : i = j := by
  cases Nat.le.dest hij with
  | intro d hd =>
    rw [← hd] at hj heq
    have hdn : d < n := lt_of_add_lt_add_left hj
    have : d = 0 := mod_window_aux n hn (i + 1) i (Nat.ltSuccSelf i) d hdn heq.symm
    rw [← hd, this]; rfl

/-- The form the proofs use: a fresh index `j` never lands on the slot of a live index `i`. -/
theorem slot_ne {n i j : Nat} (hn : 0 < n) (hij : i < j) (hj : j < i + n) :
    j % n ≠ i % n := fun heq =>
  lt_irrefl j (by
    have := mod_inj_window hn (Nat.leOfLt hij) hj heq.symm
    rw [this] at hij; exact hij)

end Ring
