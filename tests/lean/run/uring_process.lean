/- IO.Process: pipes in both directions, 100 KB through them, exit codes, broken pipes, output order. -/
open IO.Process

def main : IO Unit := do
  IO.println s!"exit 3: {← (← spawn { cmd := "sh", args := #["-c", "exit 3"] }).wait}"
  -- inherited stdout: what we printed before the child must come out before the child's output
  IO.println "before the child"
  let child ← spawn { cmd := "sh", args := #["-c", "echo from the child"] }
  discard child.wait
  IO.println "after the child"
  -- child to parent
  let child ← spawn { cmd := "sh", args := #["-c", "printf 'a\\nbb\\n\\nccc'"], stdout := Stdio.piped }
  let l1 ← child.stdout.getLine
  let rest ← child.stdout.readToEnd
  IO.println s!"piped stdout: {repr l1} {repr rest} eof={← child.stdout.isEof} exit={← child.wait}"
  -- parent to child to parent, 100 KB each way; a dedicated task writes while we read
  let mut data := ""
  for i in [0:10000] do
    data := data ++ s!"{i % 10}{i % 7}{i % 3}abcdef\n"
  let child ← spawn { cmd := "head", args := #["-c", toString data.utf8ByteSize], stdin := Stdio.piped, stdout := Stdio.piped }
  let stdin := child.stdin
  let writer ← IO.asTask (do stdin.putStr data; stdin.flush) Task.Priority.dedicated
  let back ← child.stdout.readToEnd
  IO.println s!"round trip: sent {data.utf8ByteSize} bytes, got {back.utf8ByteSize}, equal: {back == data}"
  match writer.get with
  | Except.ok _ => IO.println "writer: ok"
  | Except.error e => IO.println s!"writer: {e}"
  IO.println s!"exit: {← child.wait}"
  -- both pipes full at once (IO.Process.output reads stdout in a dedicated task)
  let out ← output { cmd := "sh", args := #["-c", "printf '%100000s' >& 2; printf '%100001s'"] }
  IO.println s!"output: stdout {out.stdout.length}, stderr {out.stderr.length}, exit {out.exitCode}"
  -- a child that exits without reading: the write is buffered, the flush fails
  let child ← spawn { cmd := "true", stdin := Stdio.piped }
  discard child.wait
  child.stdin.putStrLn "ha!"
  try
    child.stdin.flush
    IO.println "flush of a broken pipe: no error"
  catch e =>
    IO.println s!"flush of a broken pipe: {e}"
  -- null stdio
  IO.println s!"null stdin: {← (← spawn { cmd := "cat", stdin := Stdio.null }).wait}"
  IO.println s!"null stdout: {← (← spawn { cmd := "sh", args := #["-c", "echo hidden"], stdout := Stdio.null }).wait}"
  -- run
  IO.println s!"run: {repr (← run { cmd := "sh", args := #["-c", "echo run; echo err >&2"] })}"
  -- stdin piped: spawn does not flush stdout, so the child's line overtakes our buffered output
  IO.println "buffered while the child runs"
  let child ← spawn { cmd := "sh", args := #["-c", "echo child with piped stdin"], stdin := Stdio.piped }
  discard child.wait
  IO.println "done"
