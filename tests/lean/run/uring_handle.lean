/- IO.FS.Handle: buffering, EOF rules, getLine, modes. Output must be the same under both backends. -/
open IO.FS

def bytes (xs : List Nat) : ByteArray := ⟨(xs.map Nat.toUInt8).toArray⟩

def showBytes (label : String) (b : ByteArray) : IO Unit :=
  IO.println s!"{label}: {b.toList}"

def eofRules : IO Unit := do
  writeFile "a.txt" "hello"
  let h ← Handle.mk "a.txt" Mode.read
  IO.println s!"eof before reading: {← h.isEof}"
  showBytes "read 3" (← h.read 3)
  showBytes "read 2 (exactly to the end)" (← h.read 2)
  IO.println s!"eof after reading exactly to the end: {← h.isEof}"
  showBytes "read past the end" (← h.read 2)
  IO.println s!"eof after reading past the end: {← h.isEof}"
  showBytes "read again" (← h.read 2)
  IO.println s!"getLine at eof: {repr (← h.getLine)}"
  IO.println s!"eof still: {← h.isEof}"
  let h ← Handle.mk "a.txt" Mode.read
  showBytes "read 100 of 5" (← h.read 100)
  IO.println s!"eof after a short read: {← h.isEof}"
  writeFile "empty.txt" ""
  let h ← Handle.mk "empty.txt" Mode.read
  showBytes "empty file" (← h.read 1)
  IO.println s!"eof of empty file: {← h.isEof}"
  let h ← Handle.mk "empty.txt" Mode.read
  IO.println s!"getLine of empty file: {repr (← h.getLine)} eof={← h.isEof}"

def getLines : IO Unit := do
  writeFile "l.txt" "one\ntwo\n\nthree"
  let h ← Handle.mk "l.txt" Mode.read
  for i in [0:6] do
    let l ← h.getLine
    IO.println s!"line {i}: {repr l} eof={← h.isEof}"
  -- lines around upstream's 63-byte fgets chunks
  let mk (n : Nat) : String := String.mk (List.replicate n 'x')
  writeFile "long.txt" (mk 62 ++ "\n" ++ mk 63 ++ "\n" ++ mk 64 ++ "\n" ++ mk 200 ++ "\n" ++ mk 126)
  let h ← Handle.mk "long.txt" Mode.read
  for _ in [0:6] do
    let l ← h.getLine
    IO.println s!"long line: {l.length} chars, ends with newline: {l.endsWith "\n"}"
  IO.println s!"lines: {(← lines "long.txt").map String.length}"
  -- a NUL byte: upstream's getLine cuts the line there and drops the rest of its 63-byte chunk
  writeBinFile "nul.bin" (bytes [97, 0, 98, 10, 99, 10])
  let h ← Handle.mk "nul.bin" Mode.read
  IO.println s!"nul line 1: {repr (← h.getLine)}"
  IO.println s!"nul line 2: {repr (← h.getLine)}"
  -- and putStr stops at a NUL
  -- (built at run time: a NUL in a string literal does not survive the C emitter at the pin)
  writeFile "nulw.txt" ("ab" ++ String.singleton (Char.ofNat 0) ++ "cd")
  showBytes "putStr with NUL" (← readBinFile "nulw.txt")

def buffering : IO Unit := do
  let w ← Handle.mk "buf.txt" Mode.write
  w.putStr "12345"
  IO.println s!"size before flush: {(← readBinFile "buf.txt").size}"
  w.flush
  IO.println s!"size after flush: {(← readBinFile "buf.txt").size}"
  w.putStr (String.mk (List.replicate 5000 'y'))
  IO.println s!"size after 5000 more bytes, unflushed: {(← readBinFile "buf.txt").size}"
  w.flush
  IO.println s!"size after flush: {(← readBinFile "buf.txt").size}"
  -- a handle that is dropped is flushed and closed
  withFile "drop.txt" Mode.write fun h => h.putStrLn "written, never flushed"
  IO.println s!"dropped handle: {repr (← readFile "drop.txt")}"

def modes : IO Unit := do
  writeBinFile "m.bin" (bytes [1, 2, 3, 4])
  withFile "m.bin" Mode.append fun h => h.write (bytes [5, 6])
  showBytes "append" (← readBinFile "m.bin")
  let h ← Handle.mk "m.bin" Mode.readWrite
  showBytes "readWrite read 2" (← h.read 2)
  h.write (bytes [9, 9])
  h.flush
  showBytes "readWrite read after write" (← h.read 10)
  showBytes "after readWrite" (← readBinFile "m.bin")
  withFile "m.bin" Mode.write fun h => h.write (bytes [7])
  showBytes "write truncates" (← readBinFile "m.bin")
  -- a large binary round trip, with every byte value
  let mut big := ByteArray.empty
  for i in [0:300000] do
    big := big.push (Nat.toUInt8 (i * 7 + i / 256))
  writeBinFile "big.bin" big
  let back ← readBinFile "big.bin"
  IO.println s!"big round trip: {back.size} bytes, equal: {back.data == big.data}"
  let h ← Handle.mk "big.bin" Mode.read
  let part ← h.read 200000
  IO.println s!"big read of 200000: {part.size}, then {(← h.read 200000).size}, then {(← h.read 1).size}, eof={← h.isEof}"

def main : IO Unit := do
  eofRules
  getLines
  buffering
  modes
