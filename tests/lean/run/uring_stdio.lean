/- The standard streams: stdout buffered (a file here), stderr not, interleaving as with C stdio. -/
def main : IO Unit := do
  IO.println "out 1"
  IO.eprintln "err 1"
  IO.println "out 2"
  (← IO.getStdout).flush
  IO.eprintln "err 2 (after a flush of stdout)"
  -- more than one 4096-byte buffer: stdout reaches the file in the same pieces as with stdio
  for i in [0:120] do
    IO.println s!"line {i} of a long stdout ......................"
    if i % 40 == 0 then IO.eprintln s!"err at line {i}"
  IO.print "no newline at the end"
  IO.eprint "err without newline\n"
  let out ← IO.getStdout
  out.write "bytes via write\n".toUTF8
  out.putStr "last\n"
