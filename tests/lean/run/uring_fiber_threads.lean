/- Four threads, each with its own scheduler: fibers on each do timers and nops, and pass bytes
through a pipe between two fibers of the same thread. -/
import Init.IO.Fiber
open IO

/-- Read the pipe to its end: (bytes, their sum). -/
partial def drain (r : Int) (got sum : Nat) : Fiber (Nat × Nat) := do
  let (n, buf) ← Fiber.read r (ByteArray.mkEmpty 7)
  if n == 0 then return (got, sum)
  drain r (got + n) (buf.data.foldl (fun s b => s + b.toNat) sum)

def work (t : Nat) : Fiber Unit := do
  let hits ← IO.mkRef 0
  let (r, w) ← Ring.pipe
  Switch.run fun sw => do
    for i in [0:200] do
      Fiber.fork sw do
        Fiber.sleep (UInt32.ofNat (i % 5))
        Fiber.nop
        hits.modify (· + 1)
    Fiber.fork sw do
      for i in [0:100] do
        discard (Fiber.write w (ByteArray.mk #[i.toUInt8]))
      Fiber.close w
    let (got, sum) ← drain r 0 0
    Fiber.close r
    if got != 100 || sum != 4950 then throw (IO.userError s!"thread {t}: {got} bytes, sum {sum}")
  if (← hits.get) != 200 then throw (IO.userError s!"thread {t}: {← hits.get} fibers")

def main : IO Unit := do
  Fiber.runInThreads 4 work
  IO.println "4 threads: 200 fibers and 100 bytes each"
  try
    Fiber.runInThreads 3 fun t => do
      if t == 1 then throw (IO.userError "thread 1 failed")
      Fiber.sleep 10
  catch e => IO.println s!"raised: {e}"
