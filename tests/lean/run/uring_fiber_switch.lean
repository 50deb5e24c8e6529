/- Switches: a failing fiber cancels its siblings and the body, and Switch.run raises its error
once all have finished; release hooks run last registered first; a finished switch refuses new
fibers and hooks; nested switches. -/
import Init.IO.Fiber
open IO

def say (s : String) : Fiber Unit := IO.println s

def main : IO Unit := do
  let log ← IO.mkRef #[]
  let note (s : String) : Fiber Unit := log.modify (·.push s)
  try
    Fiber.run do
      Switch.run fun sw => do
        Switch.onRelease sw (note "hook 1")
        Switch.onRelease sw (note "hook 2")
        Fiber.fork sw do
          try Fiber.sleep 10000 catch e => do note s!"sleeper: {e.isCancelled}"; throw e
        Fiber.fork sw do
          let (r, w) ← Ring.pipe
          try discard (Fiber.read r (ByteArray.mkEmpty 16))
          catch e => do note s!"reader: {e.isCancelled}"; throw e
        Fiber.fork sw do
          Fiber.sleep 5
          note "failing"
          throw (IO.userError "child failed")
        try Fiber.sleep 10000 catch e => do note s!"body: {e.isCancelled}"; throw e
        note "body not reached"
  catch e => IO.println s!"raised: {e}"
  for s in ← log.get do IO.println s
  -- a switch whose fibers all succeed returns the body's value after the last one
  let v ← Fiber.run do
    Switch.run fun sw => do
      for i in [0:5] do
        Fiber.fork sw do
          Fiber.sleep (UInt32.ofNat (5 - i))
          say s!"child {i}"
      say "body returns"
      pure 99
  IO.println s!"value: {v}"
  -- the body failing cancels the fibers too
  try
    Fiber.run do
      Switch.run fun sw => do
        Fiber.fork sw do
          try Fiber.sleep 10000 catch e => do say s!"child cancelled: {e.isCancelled}"; throw e
        Fiber.yield
        throw (IO.userError "body failed")
  catch e => IO.println s!"raised: {e}"
  -- an inner switch's failure is raised in the outer one, which can catch it
  Fiber.run do
    Switch.run fun outer => do
      Fiber.fork outer do
        Fiber.sleep 20
        say "outer child survives"
      try
        Switch.run fun inner => do
          Fiber.fork inner (throw (IO.userError "inner failed"))
          Fiber.sleep 10000
      catch e => say s!"inner raised: {e}"
  -- cancelling the outer switch reaches fibers of an inner one
  try
    Fiber.run do
      Switch.run fun outer => do
        Fiber.fork outer do
          Switch.run fun inner => do
            Fiber.fork inner do
              try Fiber.sleep 10000 catch e => do say s!"inner child cancelled: {e.isCancelled}"; throw e
            Fiber.sleep 10000
        Fiber.sleep 5
        throw (IO.userError "outer body failed")
  catch e => IO.println s!"raised: {e}"
  -- a finished switch refuses fibers and hooks; a failing hook is raised
  Fiber.run do
    let sw ← Switch.run fun sw => pure sw
    try Fiber.fork sw (say "no") catch e => say s!"fork: {e}"
    try Switch.onRelease sw (say "no") catch e => say s!"onRelease: {e}"
    try
      Switch.run fun sw => do
        Switch.onRelease sw (say "hook after the failing one runs")
        Switch.onRelease sw (throw (IO.userError "hook failed"))
    catch e => say s!"hook raised: {e}"
