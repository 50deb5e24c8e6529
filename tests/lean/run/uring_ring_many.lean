/- 10,000 nops in flight on one ring: each completes exactly once, with its own userData. -/
import Init.IO.Ring

partial def drain (r : IO.Ring) (seen : Array Nat) (waits : Nat) : IO (Array Nat × Nat) := do
  let cs ← r.wait
  if cs.isEmpty then return (seen, waits)
  let mut seen := seen
  for c in cs do
    let c : IO.Ring.Cqe := c
    let i := (c.userData - (1000 : UInt64)).toNat
    if i < seen.size && c.res == (0 : Int) then
      seen := seen.set! i (seen.get! i + 1)
    else
      throw (IO.userError s!"unexpected completion {c.userData} res={c.res}")
  drain r seen (waits + 1)

def main : IO Unit := do
  let r ← IO.Ring.current
  let n := 10000
  for i in [0:n] do
    r.nop (1000 + i.toUInt64)
  IO.println s!"in flight: {← r.inflight}"
  let (seen, waits) ← drain r (mkArray n 0) 0
  IO.println s!"each completed once: {seen.all (· == 1)}, completions: {seen.foldl (· + ·) 0}"
  IO.println s!"fewer waits than completions: {decide (waits < n)}"
  IO.println s!"in flight after: {← r.inflight}"
  -- and again, reusing every slot (new generations)
  for i in [0:n] do
    r.nop (1000 + i.toUInt64)
  let (seen, _) ← drain r (mkArray n 0) 0
  IO.println s!"second round, each completed once: {seen.all (· == 1)}"
