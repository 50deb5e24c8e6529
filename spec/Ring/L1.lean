/-
Ring.L1: one ring as the C code lays it out.  Indices are free-running `Nat`s (the u32 counters
unwrapped, see Ring.U32); an index `i` lives in slot `i % cap`, `cap` a power of two.
-/
import Ring.Arith

namespace Ring

/-- The opcodes the runtime issues (io_uring numbers: NOP 0, ACCEPT 13, CLOSE 19, READ 22,
WRITE 23, SEND 26, RECV 27). -/
inductive Op
  | nop | accept | close | read | write | send | recv
  deriving DecidableEq, Repr, Inhabited

/-- A submission queue entry, restricted to the fields the runtime sets. -/
structure Sqe where
  opcode : Op
  fd : Int
  offset : Nat
  buffer : Nat
  length : Nat
  userData : Nat
  deriving Inhabited

/-- A completion queue entry. -/
structure Cqe where
  userData : Nat
  res : Int
  flags : Nat
  deriving Inhabited

/-- `IORING_CQE_F_MORE` (bit 1 of the flags): the request posts more CQEs and stays in flight (a
multishot accept or recv, the first CQE of a zero-copy send).  A CQE without it is the request's
final one.  (Division, not `&&&`: `Nat.land` is a `partial def` in this core.) -/
def Cqe.more (c : Cqe) : Bool := c.flags / 2 % 2 == 1

/-- The requests in flight after `c` is posted: its request leaves with its final CQE only. -/
def retire (inflight : List Nat) (c : Cqe) : List Nat :=
  if c.more = true then inflight else inflight.erase c.userData

def IsPow2 (n : Nat) : Prop := ∃ k, n = 2 ^ k

def slot (cap i : Nat) : Nat := i % cap

/-- Point update of a function (a ring slot write, or a ghost record). -/
def upd {α : Type} (f : Nat → α) (k : Nat) (v : α) : Nat → α :=
  fun j => if j = k then v else f j

theorem upd_same {α : Type} (f : Nat → α) (k : Nat) (v : α) : upd f k v k = v := by
  simp [upd]

theorem upd_other {α : Type} (f : Nat → α) {k j : Nat} (v : α) (h : j ≠ k) : upd f k v j = f j := by
  simp [upd, h]

/-- `pre f n = [f 0, …, f (n-1)]`: the first `n` entries of an index-addressed history. -/
def pre {α : Type} (f : Nat → α) : Nat → List α
  | 0 => []
  | n + 1 => pre f n ++ [f n]

theorem pre_succ {α : Type} (f : Nat → α) (n : Nat) : pre f (n + 1) = pre f n ++ [f n] := rfl

/-- Changing a history at or after `n` does not change its first `n` entries. -/
theorem pre_upd {α : Type} (f : Nat → α) (k : Nat) (v : α) :
    ∀ n, n ≤ k → pre (upd f k v) n = pre f n
  | 0, _ => rfl
  | n + 1, h => by
    have hn : n ≠ k := fun e => by rw [e] at h; exact Nat.notSuccLeSelf k h
    rw [pre_succ, pre_succ, pre_upd f k v n (Nat.leOfSuccLe h), upd_other f v hn]

theorem pre_upd_succ {α : Type} (f : Nat → α) (k : Nat) (v : α) :
    pre (upd f k v) (k + 1) = pre f k ++ [v] := by
  rw [pre_succ, pre_upd f k v k (Nat.leRefl k), upd_same]

/-- Own prefix relation (2021 core has no `List.IsPrefix`). -/
def Prefix {α : Type} (l₁ l₂ : List α) : Prop := ∃ r, l₁ ++ r = l₂

theorem Prefix.refl {α : Type} (l : List α) : Prefix l l := ⟨[], List.append_nil l⟩

theorem Prefix.trans {α : Type} {a b c : List α} : Prefix a b → Prefix b c → Prefix a c
  | ⟨r, hr⟩, ⟨q, hq⟩ => ⟨r ++ q, by rw [← List.append_assoc, hr, hq]⟩

theorem pre_prefix {α : Type} (f : Nat → α) (m : Nat) : ∀ n, m ≤ n → Prefix (pre f m) (pre f n)
  | 0, h => by rw [Nat.eqZeroOfLeZero h]; exact Prefix.refl _
  | n + 1, h => by
    cases Nat.eqOrLtOfLe h with
    | inl e => rw [e]; exact Prefix.refl _
    | inr lt => exact Prefix.trans (pre_prefix f m n (Nat.leOfLtSucc lt)) ⟨[f n], rfl⟩

theorem length_append {α : Type} : ∀ (a b : List α), (a ++ b).length = a.length + b.length
  | [], b => by rw [List.nil_append, List.length_nil, Nat.zero_add]
  | x :: a, b => by
    rw [List.cons_append, List.length_cons, List.length_cons, length_append a b, Nat.succ_add]

theorem append_single_inj {α : Type} : ∀ {l : List α} {a b : α}, l ++ [a] = l ++ [b] → a = b
  | [], a, b, h => by injection h; assumption
  | x :: l, a, b, h => by
    rw [List.cons_append, List.cons_append] at h
    injection h with _ h2; exact append_single_inj h2

/-- A history that grows by one entry differs from what it was (so a step that leaves it alone
appends nothing). -/
theorem ne_append_single {α : Type} {l : List α} {a : α} (h : l = l ++ [a]) : False := by
  have h2 := congrArg List.length h
  rw [length_append] at h2
  have h3 : l.length < l.length + [a].length := Nat.ltSuccSelf _
  rw [← h2] at h3
  exact Nat.ltIrrefl _ h3

theorem length_pre {α : Type} (f : Nat → α) : ∀ n, (pre f n).length = n
  | 0 => rfl
  | n + 1 => by rw [pre_succ, length_append, length_pre f n]; rfl

end Ring
