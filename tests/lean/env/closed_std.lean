/- Started with standard descriptors closed (issue #13, case 8), by run-backends.sh
   (closed_std) as `prog <&-`, `>&-`, `2>&-` and with all three closed.  The program uses
   stdin, stdout and stderr first, then an ordinary file, then writes what each operation
   returned into report.txt: the report, the visible output and the exit code must be the
   same under both backends (closed_std.expected.out), and nothing may hang (under uring the
   ring took the free descriptor, so stdin reads went to the ring). -/
def result (act : IO String) : IO String := do
  try
    act
  catch e =>
    return s!"error: {e}"

def main : IO Unit := do
  let stdin ← IO.getStdin
  let out ← IO.getStdout
  let err ← IO.getStderr
  let r1 ← result do return s!"ok {repr (← stdin.getLine)}"
  let r2 ← result do return s!"ok {(← stdin.read 10).size} bytes"
  let r3 ← result do out.putStr "to stdout\n"; out.flush; return "ok"
  let r4 ← result do err.putStr "to stderr\n"; return "ok"
  let r5 ← result do
    IO.FS.writeFile "data.txt" "data\n"
    return s!"ok {repr (← IO.FS.readFile "data.txt")}"
  let h ← IO.FS.Handle.mk "report.txt" IO.FS.Mode.write
  h.putStrLn s!"stdin getLine: {r1}"
  h.putStrLn s!"stdin read: {r2}"
  h.putStrLn s!"stdout write and flush: {r3}"
  h.putStrLn s!"stderr write: {r4}"
  h.putStrLn s!"file write and read: {r5}"
