/- 1,000 threads at once, each with a file open (issue #13, case 3), run by run-backends.sh
   under `ulimit -n 1024` (with_nofile): 1,000 dedicated tasks each open a file and write a
   line, wait until all of them have, then flush and close.  None may fail and every file must
   hold its line: 1,000 files fit under the limit, but under uring each thread's ring cost one
   more fd, so threads got EMFILE.  `threads N` runs N tasks. -/
partial def waitUntil (ms : UInt32) (cond : IO Bool) : IO Unit := do
  if !(← cond) then
    IO.sleep ms
    waitUntil ms cond

def main (args : List String) : IO Unit := do
  let n := match args with
    | [a] => a.toNat!
    | _ => 1000
  IO.FS.createDir "t"
  let go ← IO.mkRef false
  let gate ← IO.asTask (waitUntil 5 go.get) Task.Priority.dedicated
  let mut opened := #[]
  let mut tasks := #[]
  for i in [0:n] do
    let flag ← IO.mkRef none
    opened := opened.push flag
    tasks := tasks.push (← IO.asTask (prio := Task.Priority.dedicated) do
      try
        let h ← IO.FS.Handle.mk s!"t/{i}.txt" IO.FS.Mode.write
        h.putStrLn s!"line {i}"
        flag.set (some "")
        discard <| IO.wait gate
        h.flush
      catch e =>
        flag.set (some (toString e))
        throw e)
  -- every task has its file open (or has failed): let them flush and close
  waitUntil 10 (opened.allM fun f => return (← f.get).isSome)
  go.set true
  let mut failed := 0
  let mut first := ""
  for t in tasks do
    match t.get with
    | Except.ok _ => pure ()
    | Except.error e =>
      if failed == 0 then first := toString e
      failed := failed + 1
  IO.println s!"{n} tasks, {failed} failed"
  if failed > 0 then IO.println s!"first error: {first}"
  let mut good := 0
  for i in [0:n] do
    try
      if (← IO.FS.readFile s!"t/{i}.txt") == s!"line {i}\n" then good := good + 1
    catch _ => pure ()
  IO.println s!"{good} of {n} files hold their line"
