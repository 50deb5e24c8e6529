/-
Ring.U32 (L3): the bridge between the C code's u32 counters and the model's `Nat` indices.
-/
import Ring.Arith

namespace Ring

def u32Size : Nat := 4294967296   -- 2^32
def half : Nat := 2147483648      -- 2^31

/-- The `Nat` that a u32 observation `x` stands for, given the observer's own copy `ref`: the
unique value within 2^31 of `ref` that is congruent to `x` (`none` if it would be negative). -/
def unwrap (ref x : Nat) : Option Nat :=
  let d := (x % u32Size + (u32Size - ref % u32Size)) % u32Size
  if d < half then some (ref + d)
  else if u32Size - d ≤ ref then some (ref - (u32Size - d))
  else none

end Ring
