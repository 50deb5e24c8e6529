/- Reading stdin (the runner feeds uring_stdin.input). -/
def main : IO Unit := do
  let stdin ← IO.getStdin
  IO.println s!"eof at start: {← stdin.isEof}"
  let first ← stdin.getLine
  IO.println s!"first line: {repr first}"
  let bytes ← stdin.read 5
  IO.println s!"5 bytes: {bytes.toList}"
  let mut n := 0
  for _ in [0:100] do
    let l ← stdin.getLine
    if l.isEmpty then break
    n := n + 1
    IO.println s!"line: {repr l}"
  IO.println s!"{n} more lines, eof: {← stdin.isEof}, read at eof: {(← stdin.read 10).size}"
