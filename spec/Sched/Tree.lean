/-
Sched.Tree: the functions the scheduler twin's state is made of.  The model's `Nat → β`
fields, updated with `upd`, become chains of closures that cost one call per update at every
lookup, and a trace has hundreds of thousands of updates.  A `Tree` spreads one function over
2^d leaves by the low bits of the key, each leaf the function it started as plus a list of the
keys set since, one entry per key: a lookup or an update walks d nodes and one leaf's keys.
`fn_set` is all the twin needs: setting a key in the tree is `upd` of its function.
-/
import Sched.Model

namespace Ring
namespace Sched

/-- The value last set for `x`, if any. -/
def find? {β : Type} : List (Nat × β) → Nat → Option β
  | [], _ => none
  | (k, v) :: rest, x => if x = k then some v else find? rest x

/-- Set `k` to `v`, in place of its old entry if it has one. -/
def assign {β : Type} : List (Nat × β) → Nat → β → List (Nat × β)
  | [], k, v => [(k, v)]
  | (k', v') :: rest, k, v => if k = k' then (k, v) :: rest else (k', v') :: assign rest k v

inductive Tree (β : Type) where
  | leaf : (Nat → β) → List (Nat × β) → Tree β
  | node : Tree β → Tree β → Tree β

namespace Tree

/-- The value at `x`, down the path of `bits`'s low bits. -/
def get {β : Type} : Tree β → Nat → Nat → β
  | leaf f kvs, _, x => match find? kvs x with
    | some v => v
    | none => f x
  | node l r, bits, x => if bits % 2 = 0 then get l (bits / 2) x else get r (bits / 2) x

/-- Set `k` to `v` in the leaf down the path of `bits`. -/
def put {β : Type} : Tree β → Nat → Nat → β → Tree β
  | leaf f kvs, _, k, v => leaf f (assign kvs k v)
  | node l r, bits, k, v =>
    if bits % 2 = 0 then node (put l (bits / 2) k v) r else node l (put r (bits / 2) k v)

def fn {β : Type} (t : Tree β) : Nat → β := fun x => t.get x x

def set {β : Type} (t : Tree β) (k : Nat) (v : β) : Tree β := t.put k k v

/-- `f` spread over 2^d leaves. -/
def spread {β : Type} (f : Nat → β) : Nat → Tree β
  | 0 => leaf f []
  | d + 1 => let t := spread f d; node t t

end Tree
end Sched

open Sched Sched.Tree

theorem Sched.find_assign {β : Type} (k x : Nat) (v : β) :
    ∀ (l : List (Nat × β)), find? (assign l k v) x = if x = k then some v else find? l x
  | [] => rfl
  | (k', v') :: rest => by
    byCases e : k = k'
    · simp only [assign, ifPos e, find?]
      byCases ex : x = k
      · rw [ifPos ex, ifPos ex]
      · rw [ifNeg ex, ifNeg ex, ifNeg (fun h : x = k' => ex (h.trans e.symm))]
    · simp only [assign, ifNeg e, find?]
      rw [find_assign k x v rest]
      byCases ex : x = k
      · rw [ifPos ex, ifNeg (fun h : x = k' => e (ex.symm.trans h)), ifPos ex]
      · rw [ifNeg ex, ifNeg ex]

theorem Sched.Tree.get_put {β : Type} (k x : Nat) (v : β) :
    ∀ (t : Tree β) (b b' : Nat), (x = k → b' = b) →
      get (put t b k v) b' x = if x = k then v else get t b' x
  | leaf f kvs, b, b', _ => by
    simp only [put, get, find_assign]
    byCases ex : x = k
    · simp only [ifPos ex] <;> rfl
    · simp only [ifNeg ex] <;> rfl
  | node l r, b, b', h => by
    byCases hb : b % 2 = 0
    · byCases hb' : b' % 2 = 0
      · simp only [put, get, ifPos hb, ifPos hb']
        exact get_put k x v l (b / 2) (b' / 2) (fun e => by rw [h e])
      · simp only [put, get, ifPos hb, ifNeg hb']
        byCases e : x = k
        · exact absurd (by rw [h e]; exact hb) hb'
        · rw [ifNeg e]
    · byCases hb' : b' % 2 = 0
      · simp only [put, get, ifNeg hb, ifPos hb']
        byCases e : x = k
        · exact absurd (by rw [← h e]; exact hb') hb
        · rw [ifNeg e]
      · simp only [put, get, ifNeg hb, ifNeg hb']
        exact get_put k x v r (b / 2) (b' / 2) (fun e => by rw [h e])

/-- Setting `k` in a tree is `upd` of its function at `k`. -/
theorem Sched.Tree.fn_set {β : Type} (t : Tree β) (k : Nat) (v : β) : (t.set k v).fn = upd t.fn k v :=
  funext fun x => get_put k x v t k x (fun e => e)

theorem Sched.Tree.get_spread {β : Type} (f : Nat → β) : ∀ (d b x : Nat), get (spread f d) b x = f x
  | 0, b, x => rfl
  | d + 1, b, x => by
    byCases hb : b % 2 = 0
    · simp only [spread, get, ifPos hb]; exact get_spread f d (b / 2) x
    · simp only [spread, get, ifNeg hb]; exact get_spread f d (b / 2) x

theorem Sched.Tree.fn_spread {β : Type} (f : Nat → β) (d : Nat) : (spread f d).fn = f :=
  funext fun x => get_spread f d x x

end Ring
