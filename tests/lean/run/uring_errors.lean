/- IO errors: the same IO.Error kinds, codes and file names under both backends. -/
open IO.FS

def expectErr (label : String) (act : IO α) : IO Unit := do
  try
    discard act
    IO.println s!"{label}: no error"
  catch e =>
    IO.println s!"{label}: {e}"

def main : IO Unit := do
  createDir "d"
  writeFile "d/f.txt" "x"
  writeFile "w.txt" "w"
  expectErr "open missing file" (Handle.mk "missing.txt" Mode.read)
  expectErr "open in missing directory" (Handle.mk "nodir/x.txt" Mode.write)
  expectErr "open directory for writing" (Handle.mk "d" Mode.write)
  expectErr "open with a bad mode string" (Handle.mkPrim "w.txt" "z")
  expectErr "open a file as a directory" (Handle.mk "w.txt/x" Mode.read)
  expectErr "createDir existing" (createDir "d")
  expectErr "createDir in missing parent" (createDir "nodir/sub")
  expectErr "removeFile missing" (removeFile "missing.txt")
  expectErr "removeFile non-empty directory" (removeFile "d")
  expectErr "metadata missing" (System.FilePath.metadata "missing.txt")
  expectErr "readDir missing" (System.FilePath.readDir "missing")
  expectErr "readDir of a file" (System.FilePath.readDir "w.txt")
  let r ← Handle.mk "w.txt" Mode.read
  expectErr "write to a read-only handle" (r.putStr "no")
  expectErr "read after the failed write" (r.read 10)
  let w ← Handle.mk "w2.txt" Mode.write
  expectErr "read from a write-only handle" (w.read 1)
  expectErr "getLine from a write-only handle" w.getLine
  expectErr "isEof of a write-only handle" w.isEof
  let d ← Handle.mk "d" Mode.read
  expectErr "read a directory" (d.read 1)
  expectErr "throw unexpectedEof, caught" (throw IO.Error.unexpectedEof : IO Unit)
