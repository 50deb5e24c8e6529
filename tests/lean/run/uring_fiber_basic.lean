/- Fibers: fork and yield order, promises (await, resolve twice, never resolved), both, first,
forkPromise, a loop that never suspends, a nested scheduler. -/
import Init.IO.Fiber
open IO

def say (s : String) : Fiber Unit := IO.println s

def main : IO Unit := do
  -- a fork runs until it suspends, then its parent goes on; yields interleave in order
  Fiber.run do
    Switch.run fun sw => do
      for name in ["a", "b", "c"] do
        Fiber.fork sw do
          for i in [0:3] do
            say s!"{name}{i}"
            Fiber.yield
      say "parent after forks"
    say "switch done"
  -- a promise passes a value from one fiber to others
  let v ← Fiber.run do
    let p ← Promise.create
    Switch.run fun sw => do
      for i in [0:3] do
        Fiber.fork sw do
          let x ← p.await
          say s!"waiter {i} got {x}"
      Fiber.fork sw do
        Fiber.sleep 5
        p.resolve 42
      p.await
  IO.println s!"run returned {v}"
  -- resolving twice raises; the value stays the first
  Fiber.run do
    let p ← Promise.create
    p.resolve "first"
    try p.resolve "second" catch e => say s!"second resolve: {e}"
    say s!"value: {← p.await}, tryResolve again: {← p.tryResolve "third"}"
  -- awaiting a promise nobody can resolve is an error when the scheduler runs dry
  try
    Fiber.run do
      let p : Promise Nat ← Promise.create
      let n ← p.await
      say s!"unexpected {n}"
  catch e => IO.println s!"never resolved: {e}"
  -- both gives both values; first gives the faster and cancels the other
  let (a, b) ← Fiber.run (Fiber.both (do Fiber.sleep 20; pure "slow") (do Fiber.sleep 1; pure 7))
  IO.println s!"both: {a} {b}"
  let w ← Fiber.run (Fiber.first (do Fiber.sleep 2000; pure "slow") (do Fiber.sleep 5; pure "fast"))
  IO.println s!"first: {w}"
  let w ← Fiber.run do
    Fiber.first (do Fiber.yield; pure "yielder") (do Fiber.sleep 1000; say "not reached"; pure "sleeper")
  IO.println s!"first: {w}"
  -- forkPromise hands a failure to its promise, not to the switch
  Fiber.run do
    Switch.run fun sw => do
      let ok ← Fiber.forkPromise sw (do Fiber.sleep 1; pure 5)
      let bad ← Fiber.forkPromise sw (do Fiber.sleep 1; throw (IO.userError "boom") : Fiber Nat)
      say s!"ok: {← ok.awaitExn}"
      match ← bad.await with
      | Except.ok n => say s!"unexpected {n}"
      | Except.error e => say s!"bad: {e}"
      try discard bad.awaitExn catch e => say s!"awaitExn raises: {e}"
  -- a long loop that never suspends does not grow the stack
  let n ← Fiber.run do
    let mut acc := 0
    for i in [0:200000] do
      acc := acc + i % 7
    pure acc
  IO.println s!"loop: {n}"
  let n ← Fiber.run do
    let mut acc := 0
    for i in [0:20000] do
      Fiber.yield
      acc := acc + 1
    pure acc
  IO.println s!"yields: {n}"
  -- schedulers do not nest
  try
    Fiber.run do
      Fiber.liftIO (Fiber.run (say "inner"))
  catch e => IO.println s!"nested run: {e}"
  -- a scheduler runs again on the same thread afterwards
  Fiber.run (say "again")
