/- The fiber layer's cost (bench/fiber.sh): a fiber's NOP round trip, 10,000 fibers with a NOP
or a timer in flight, and a pipelined read of a file (8 fibers, 128 KiB blocks), each written
to /dev/null at the same offset as the C copy engine does.

    fiber_bench FILE        prints key value lines -/
import Init.IO.Fiber
open IO

/-- The best of 5 runs of `act`, in milliseconds (the pinned Lean has no finer clock). -/
def best (act : IO Unit) : IO Nat := do
  let mut b := 0
  for k in [0:5] do
    let t0 ← IO.monoMsNow
    act
    let t ← IO.monoMsNow
    if k == 0 || t - t0 < b then b := t - t0
  return b

def roundTrips (n : Nat) : IO Unit := Fiber.run do
  for _ in [0:n] do Fiber.nop

def inFlight (n : Nat) (op : Fiber Unit) : IO Unit := Fiber.run do
  Switch.run fun sw => do
    for _ in [0:n] do Fiber.fork sw op

def block : Nat := 128 * 1024

/-- One of the `depth` readers: claims the next block, reads it into its buffer, writes it to
`sink`, and reads again into the same buffer (`Ring.clear`). -/
partial def reader (src sink : Int) (next total : IO.Ref Nat) (buf : ByteArray) : Fiber Unit := do
  let off ← next.modifyGet fun o => (o, o + block)
  let (n, buf) ← Fiber.readAt src buf off.toUInt64
  if n == 0 then return
  let (w, buf) ← Fiber.writeAt sink buf off.toUInt64
  if w != n then throw (IO.userError s!"short write at {off}")
  total.modify (· + n)
  reader src sink next total (Ring.clear buf)

def pipelined (path : String) (depth : Nat) : IO Nat := do
  let total ← IO.mkRef 0
  Fiber.run do
    let src ← Fiber.openAt Ring.atFdCwd path 0 0
    let sink ← Fiber.openAt Ring.atFdCwd "/dev/null" 1 0
    let next ← IO.mkRef 0
    Switch.run fun sw => do
      for _ in [0:depth] do Fiber.fork sw (reader src sink next total (ByteArray.mkEmpty block))
    Fiber.close src
    Fiber.close sink
  total.get

def main (args : List String) : IO Unit := do
  let n := 200000
  IO.println s!"fiber_nop_round_trip_ns {(← best (roundTrips n)) * 1000000 / n}"
  let k := 10000
  IO.println s!"fiber_nops_in_flight_ops_per_s {k * 1000 / max (← best (inFlight k Fiber.nop)) 1}"
  IO.println s!"fiber_timers_in_flight_ops_per_s {k * 1000 / max (← best (inFlight k (Fiber.sleep 1))) 1}"
  if let some path := args.head? then
    let bytes ← IO.mkRef 0
    let t ← best do bytes.set (← pipelined path 8)
    IO.println s!"fiber_read_bytes {← bytes.get}"
    IO.println s!"fiber_read_mb_per_s {(← bytes.get) * 1000 / 1048576 / max t 1}"
