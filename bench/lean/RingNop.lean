/- The Lean ring API's cost (bench/ring.sh): `n` NOP round trips (submit one, wait for it), then
   `rounds` of 10,000 NOPs in flight; prints ns per round trip and M NOPs per second. -/
import Init.IO.Ring

def roundTrips (r : IO.Ring) (n : Nat) : IO Unit := do
  for i in [0:n] do
    r.nop i.toUInt64
    discard r.wait

partial def drain (r : IO.Ring) (left : Nat) : IO Unit := do
  if left > 0 then
    let cs ← r.wait
    drain r (left - cs.size)

def inFlight (r : IO.Ring) (rounds : Nat) : IO Unit := do
  for _ in [0:rounds] do
    for i in [0:10000] do
      r.nop i.toUInt64
    drain r 10000

/-- The best of 5 runs of `act`, in milliseconds. -/
def best (act : IO Unit) : IO Nat := do
  let mut b := 0
  for k in [0:5] do
    let t0 ← IO.monoMsNow
    act
    let t ← IO.monoMsNow
    if k == 0 || t - t0 < b then b := t - t0
  return b

def main : IO Unit := do
  let r ← IO.Ring.current
  let n := 200000
  let rt ← best (roundTrips r n)
  IO.println s!"lean_nop_round_trip_ns {rt * 1000000 / n}"
  let rounds := 20
  let fl ← best (inFlight r rounds)
  IO.println s!"lean_in_flight_ops_per_s {rounds * 10000 * 1000 / max fl 1}"
