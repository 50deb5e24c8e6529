/- One handle shared by tasks on several threads: nothing lost, no line torn. -/
open IO.FS

def main : IO Unit := do
  let h ← Handle.mk "shared.txt" Mode.write
  let tasks ← (List.range 4).mapM fun t =>
    IO.asTask (do
      for i in [0:2000] do
        h.putStrLn s!"task {t} line {i} {String.mk (List.replicate (i % 50) '.')}"
      pure ()) Task.Priority.dedicated
  for t in tasks do
    discard <| IO.ofExcept t.get
  h.flush
  let ls ← lines "shared.txt"
  let wellFormed := ls.all fun l => l.startsWith "task " && (l.splitOn " ").length == 5
  IO.println s!"lines: {ls.size}, all well formed: {wellFormed}"
  for t in [0:4] do
    let mine := ls.filter fun l => l.startsWith s!"task {t} "
    IO.println s!"task {t}: {mine.size} lines, in order: {mine.toList == (List.range 2000).map fun i => s!"task {t} line {i} {String.mk (List.replicate (i % 50) '.')}"}"
  -- readers on several threads at once, each with its own handle
  let readers ← (List.range 4).mapM fun _ =>
    IO.asTask (do return (← readFile "shared.txt").length) Task.Priority.dedicated
  let sizes ← readers.mapM fun t => IO.ofExcept t.get
  IO.println s!"concurrent readers agree: {sizes.all (· == sizes.head!)}"
