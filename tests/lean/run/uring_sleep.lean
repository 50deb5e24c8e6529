/- IO.sleep: never shorter than asked; sleeping tasks sleep at the same time. -/
def main : IO Unit := do
  let t0 ← IO.monoMsNow
  IO.sleep 150
  let t1 ← IO.monoMsNow
  IO.println s!"slept at least 150 ms: {decide (t1 - t0 ≥ 150)}"
  IO.sleep 0
  IO.println "sleep 0 returns"
  let t0 ← IO.monoMsNow
  let tasks ← (List.range 4).mapM fun i =>
    IO.asTask (do IO.sleep 400; pure i) Task.Priority.dedicated
  let rs ← tasks.mapM fun t => IO.ofExcept t.get
  let t1 ← IO.monoMsNow
  IO.println s!"4 tasks slept: {rs}, each at least 400 ms: {decide (t1 - t0 ≥ 400)}, concurrently: {decide (t1 - t0 < 1500)}"
