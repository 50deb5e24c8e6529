/-
Ring.U32 (L3): the bridge between the C code's u32 counters and the model's `Nat` indices.
The C ring keeps `index mod 2^32`; these lemmas show that the slot, the fill level and the
trace checker's unwrapping computed from the u32 values agree with the `Nat` model.
-/
import Ring.L1

namespace Ring

def u32Size : Nat := 4294967296   -- 2^32
def half : Nat := 2147483648      -- 2^31

/-- The `Nat` that a u32 observation `x` stands for, given the observer's own copy `ref`: the
unique value in `[ref - 2^31, ref + 2^31)` that is congruent to `x` (`none` if negative). -/
def unwrap (ref x : Nat) : Option Nat :=
  let d := (x % u32Size + (u32Size - ref % u32Size)) % u32Size
  if d < half then some (ref + d)
  else if u32Size - d ≤ ref then some (ref - (u32Size - d))
  else none

theorem sub_add_cancel {a b : Nat} (h : b ≤ a) : a - b + b = a :=
  match Nat.le.dest h with
  | ⟨k, hk⟩ => by rw [← hk, add_sub_cancel_left, Nat.add_comm]

theorem mod_add_mul (a M : Nat) : ∀ k, (a + M * k) % M = a % M
  | 0 => by rw [Nat.mul_zero, Nat.add_zero]
  | k + 1 => by
    have e : a + M * (k + 1) = (a + M * k) + M := by
      rw [Nat.left_distrib, Nat.mul_one, Nat.add_assoc]
    rw [e, mod_add_self, mod_add_mul a M k]

theorem mod_decomp_aux (M : Nat) (hM : 0 < M) : ∀ B t, t < B → ∃ k, t = t % M + M * k := by
  intro B
  induction B with
  | zero => intro t ht; exact absurd ht (Nat.notLtZero t)
  | succ B ih =>
    intro t ht
    cases Nat.ltOrGe t M with
    | inl hlt => exact ⟨0, by rw [Nat.mod_eq_of_lt hlt, Nat.mul_zero, Nat.add_zero]⟩
    | inr hge =>
      cases Nat.le.dest hge with
      | intro t' ht' =>
        have hB : t' < B := by
          have h1 : t' + M < B + 1 := by rw [Nat.add_comm, ht']; exact ht
          have h2 : t' + 1 ≤ t' + M := Nat.addLeAddLeft hM t'
          exact Nat.leOfSuccLeSucc (Nat.leTrans (Nat.succLeSucc h2) h1)
        cases ih t' hB with
        | intro k hk =>
          have hmod : t % M = t' % M := by rw [← ht', Nat.add_comm, mod_add_self]
          exact ⟨k + 1, by
            rw [hmod, Nat.left_distrib, Nat.mul_one, ← Nat.add_assoc, ← hk, ← ht', Nat.add_comm]⟩

/-- `t = t % M + M * k` for some `k`. -/
theorem mod_decomp {M : Nat} (hM : 0 < M) (t : Nat) : ∃ k, t = t % M + M * k :=
  mod_decomp_aux M hM (t + 1) t (Nat.ltSuccSelf t)

theorem mod_add_mod (a b M : Nat) (hM : 0 < M) : (a % M + b) % M = (a + b) % M := by
  cases mod_decomp hM a with
  | intro k hk =>
    have e : a + b = (a % M + b) + M * k := by
      rw [Nat.add_right_comm, ← hk]
    rw [e, mod_add_mul]

/-- Masking a u32 counter: when `cap` divides `M` (a power of two below 2^32 divides 2^32),
the slot of the counter `t mod M` is the slot of `t`. -/
theorem mod_mod_of_mul (t cap q : Nat) (hpos : 0 < cap * q) : (t % (cap * q)) % cap = t % cap := by
  cases mod_decomp hpos t with
  | intro k hk =>
    have e : t = t % (cap * q) + cap * (q * k) := by rw [← Nat.mul_assoc]; exact hk
    have h2 : t % cap = (t % (cap * q) + cap * (q * k)) % cap := congrArg (· % cap) e
    rw [h2, mod_add_mul]

theorem pow_add (b m : Nat) : ∀ n, b ^ (m + n) = b ^ m * b ^ n
  | 0 => by rw [Nat.add_zero, Nat.powZero, Nat.mul_one]
  | n + 1 => by
    show b ^ Nat.succ (m + n) = b ^ m * b ^ Nat.succ n
    rw [Nat.powSucc, Nat.powSucc, pow_add b m n, Nat.mul_assoc]

theorem u32Size_eq : u32Size = 2 ^ 32 := rfl

/-- Slots agree: for `cap = 2^k`, `k ≤ 32`, `(t mod 2^32) mod cap = t mod cap`. -/
theorem slot_u32 (t k : Nat) (hk : k ≤ 32) : slot (2 ^ k) (t % u32Size) = slot (2 ^ k) t := by
  cases Nat.le.dest hk with
  | intro j hj =>
    have e : u32Size = 2 ^ k * 2 ^ j := by rw [u32Size_eq, ← hj, pow_add]
    have hpos : 0 < 2 ^ k * 2 ^ j := by rw [← e, u32Size_eq]; exact pow2_pos 32
    show (t % u32Size) % 2 ^ k = t % 2 ^ k
    rw [e]
    exact mod_mod_of_mul t (2 ^ k) (2 ^ j) hpos

/-- u32 subtraction, as `Nat`: what the C computes for `tail - head`. -/
def subU32 (t h : Nat) : Nat := (t % u32Size + (u32Size - h % u32Size)) % u32Size

theorem subU32_eq_toUInt32 (t h : Nat) : subU32 t h = (t.toUInt32 - h.toUInt32).toNat := rfl

theorem add_window {r u M k δ : Nat} (hu : r + u = M) :
    (r + M * k + δ) + u = δ + M * (k + 1) := by
  have e : M * (k + 1) = M * k + (r + u) := by rw [Nat.left_distrib, Nat.mul_one, hu]
  rw [e]
  simp only [Nat.add_comm, Nat.add_assoc, Nat.add_left_comm]; rfl

/-- The fill level computed in u32 arithmetic is exact: `h ≤ t`, `t - h < 2^32` (in the ring,
`t - h ≤ cap ≤ 2^15`) give `(t - h) mod 2^32 = t - h`. -/
theorem subU32_exact {t h δ : Nat} (ht : t = h + δ) (hδ : δ < u32Size) : subU32 t h = δ := by
  have hM : 0 < u32Size := by rw [u32Size_eq]; exact pow2_pos 32
  cases mod_decomp hM h with
  | intro k hk =>
    have hu : h % u32Size + (u32Size - h % u32Size) = u32Size := by
      rw [Nat.add_comm]; exact sub_add_cancel (Nat.leOfLt (Nat.mod_lt h hM))
    have e : t + (u32Size - h % u32Size) = δ + u32Size * (k + 1) := by
      rw [ht]
      have := add_window (k := k) (δ := δ) hu
      rw [← hk] at this
      exact this
    show (t % u32Size + (u32Size - h % u32Size)) % u32Size = δ
    rw [mod_add_mod _ _ _ hM, e, mod_add_mul, Nat.mod_eq_of_lt hδ]

theorem mod_mod (a M : Nat) (hM : 0 < M) : a % M % M = a % M := Nat.mod_eq_of_lt (Nat.mod_lt a hM)

theorem u32Size_pos : 0 < u32Size := by rw [u32Size_eq]; exact pow2_pos 32

theorem half_lt : half < u32Size := by
  show half < half + half
  exact lt_add_of_pos half (by rw [show half = 2 ^ 31 from rfl]; exact pow2_pos 31)

theorem sub_sub_self {a b : Nat} (h : b ≤ a) : a - (a - b) = b := by
  have e := sub_add_cancel h
  have : a - (a - b) = ((a - b) + b) - (a - b) := by rw [e]
  rw [this, add_sub_cancel_left]

/-- Relative to the start value: the trace's u32 value of model index `n` gives back `n mod 2^32`. -/
theorem subU32_start (s n : Nat) : subU32 ((s + n) % u32Size) s = n % u32Size := by
  have hM := u32Size_pos
  show ((s + n) % u32Size % u32Size + (u32Size - s % u32Size)) % u32Size = n % u32Size
  rw [mod_mod _ _ hM, mod_add_mod _ _ _ hM]
  cases mod_decomp hM s with
  | intro k hk =>
    have hu : s % u32Size + (u32Size - s % u32Size) = u32Size := by
      rw [Nat.add_comm]; exact sub_add_cancel (Nat.leOfLt (Nat.mod_lt s hM))
    have e : s + n + (u32Size - s % u32Size) = n + u32Size * (k + 1) := by
      have := add_window (k := k) (δ := n) hu
      rw [← hk] at this
      exact this
    rw [e, mod_add_mul]

/-- Unwrapping an observation at or ahead of the observer's copy (by less than 2^31). -/
theorem unwrap_ahead {ref n δ : Nat} (hn : n = ref + δ) (hδ : δ < half) :
    unwrap ref (n % u32Size) = some n := by
  have hM := u32Size_pos
  have hd : subU32 n ref = δ := subU32_exact hn (Nat.ltTrans hδ half_lt)
  have hd' : (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size = δ := by
    rw [mod_mod _ _ hM]; exact hd
  show (if (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size < half then
      some (ref + (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size)
    else if u32Size - (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size ≤ ref then
      some (ref - (u32Size - (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size))
    else none) = some n
  rw [hd', ifPos hδ, hn]

/-- Unwrapping an observation behind the observer's copy (by at most 2^31). -/
theorem unwrap_behind {ref n δ : Nat} (hn : n + δ = ref) (hpos : 0 < δ) (hδ : δ ≤ half) :
    unwrap ref (n % u32Size) = some n := by
  have hM := u32Size_pos
  have hδM : δ ≤ u32Size := Nat.leTrans hδ (Nat.leOfLt half_lt)
  have hd : (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size = u32Size - δ := by
    rw [mod_mod _ _ hM, mod_add_mod _ _ _ hM]
    cases mod_decomp hM ref with
    | intro k hk =>
      have hu : ref % u32Size + (u32Size - ref % u32Size) = u32Size := by
        rw [Nat.add_comm]; exact sub_add_cancel (Nat.leOfLt (Nat.mod_lt ref hM))
      have e1 : (n + (u32Size - ref % u32Size)) + δ = ((u32Size - δ) + u32Size * k) + δ := by
        have h1 : (n + (u32Size - ref % u32Size)) + δ = (n + δ) + (u32Size - ref % u32Size) := by
          simp only [Nat.add_comm, Nat.add_assoc, Nat.add_left_comm]; rfl
        have h2 := add_window (k := k) (δ := 0) hu
        rw [← hk, Nat.add_zero] at h2
        rw [h1, hn, h2, Nat.zero_add, Nat.left_distrib, Nat.mul_one]
        have h3 := sub_add_cancel hδM
        have h4 : u32Size - δ + u32Size * k + δ = (u32Size - δ + δ) + u32Size * k := by
          simp only [Nat.add_comm, Nat.add_assoc, Nat.add_left_comm]; rfl
        rw [h4, h3, Nat.add_comm]
      have e := Nat.add_right_cancel e1
      rw [e, mod_add_mul, Nat.mod_eq_of_lt (Nat.subLt hM hpos)]
  have hnot : ¬ (u32Size - δ < half) := fun h => by
    have h1 : u32Size - δ + δ < half + half := Nat.ltOfLtOfLe (Nat.addLtAddRight h δ) (Nat.addLeAddLeft hδ half)
    rw [sub_add_cancel hδM] at h1
    exact lt_irrefl _ h1
  have hback : u32Size - (u32Size - δ) = δ := sub_sub_self hδM
  have hle : δ ≤ ref := by rw [← hn]; exact Nat.leAddLeft δ n
  show (if (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size < half then
      some (ref + (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size)
    else if u32Size - (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size ≤ ref then
      some (ref - (u32Size - (n % u32Size % u32Size + (u32Size - ref % u32Size)) % u32Size))
    else none) = some n
  rw [hd, ifNeg hnot, hback, ifPos hle, ← hn, add_sub_cancel]

/-- What the trace checker relies on: a trace line carrying the u32 value of model index `n`
(the C counters start at `start`) is read back as `n`, provided `n` lies within 2^31 of the
checker's own copy `ref` (in a ring, indices differ by at most the capacity). -/
theorem trace_index {start ref n : Nat}
    (hwin : (∃ δ, n = ref + δ ∧ δ < half) ∨ (∃ δ, n + δ = ref ∧ 0 < δ ∧ δ ≤ half)) :
    unwrap ref (subU32 ((start + n) % u32Size) start) = some n := by
  rw [subU32_start]
  cases hwin with
  | inl h => cases h with | intro δ h => exact unwrap_ahead h.1 h.2
  | inr h => cases h with | intro δ h => exact unwrap_behind h.1 h.2.1 h.2.2

end Ring
