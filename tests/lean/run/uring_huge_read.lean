/- Handle.read n at EOF returns an empty ByteArray without allocating n bytes: upstream tests
   feof before it allocates, so a huge n after EOF costs nothing (issue #13, case 7; under
   uring the glue allocated first and `read (2^44)` died out of memory). -/
open IO.FS

/-- 16 TiB: far more than any machine can allocate. -/
def huge : USize := USize.ofNat 17592186044416

def main : IO Unit := do
  writeFile "a.txt" "abc"
  let h ← Handle.mk "a.txt" Mode.read
  IO.println s!"read 10 of 3: {(← h.read 10).size} bytes, eof={← h.isEof}"
  IO.println s!"read 2^44 at eof: {(← h.read huge).size} bytes, eof={← h.isEof}"
  IO.println s!"and again: {(← h.read huge).size} bytes"
  -- EOF reached by getLine
  writeFile "l.txt" "one line\n"
  let h ← Handle.mk "l.txt" Mode.read
  IO.println s!"getLine: {repr (← h.getLine)}, then {repr (← h.getLine)}, eof={← h.isEof}"
  IO.println s!"read 2^44 after getLine hit eof: {(← h.read huge).size} bytes"
  -- an empty file
  writeFile "empty.txt" ""
  let h ← Handle.mk "empty.txt" Mode.read
  IO.println s!"empty file, read 1: {(← h.read 1).size} bytes, then read 2^44: {(← h.read huge).size} bytes"
  -- stdin (the runner gives /dev/null)
  let stdin ← IO.getStdin
  IO.println s!"stdin read 1: {(← stdin.read 1).size} bytes, eof={← stdin.isEof}"
  IO.println s!"stdin read 2^44 at eof: {(← stdin.read huge).size} bytes"
