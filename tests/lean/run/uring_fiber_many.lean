/- 10,000 fibers with operations in flight at once: nops, then timers; each fiber is resumed
exactly once, and 10,000 fibers parked on one promise all wake. -/
import Init.IO.Fiber
open IO

def main : IO Unit := do
  let n := 10000
  let counts ← IO.mkRef (mkArray n 0)
  let bump (i : Nat) : Fiber Unit := counts.modify fun a => a.set! i (a.get! i + 1)
  let check (what : String) : IO Unit := do
    let a ← counts.get
    IO.println s!"{what}: each resumed once: {a.all (· == 1)}, total {a.foldl (· + ·) 0}"
    counts.set (mkArray n 0)
  Fiber.run do
    Switch.run fun sw => do
      for i in [0:n] do
        Fiber.fork sw do
          Fiber.nop
          bump i
  check "nops"
  Fiber.run do
    Switch.run fun sw => do
      for i in [0:n] do
        Fiber.fork sw do
          Fiber.sleep (UInt32.ofNat (i % 20))
          bump i
  check "timers"
  Fiber.run do
    let p ← Promise.create
    Switch.run fun sw => do
      for i in [0:n] do
        Fiber.fork sw do
          let v ← p.await
          if v == 7 then bump i
      p.resolve 7
  check "promise waiters"
  -- a fiber that loops over many operations, one at a time
  let total ← Fiber.run do
    let mut k := 0
    for _ in [0:20000] do
      Fiber.nop
      k := k + 1
    pure k
  IO.println s!"sequential nops: {total}"
