/- IO.FS.copyFile (the copy engine): contents copied exactly, an existing destination
   truncated, an empty file, several copies on several threads at once, and errors that name
   the source or the destination. -/
import Init.IO.Copy
open IO.FS

def expectErr (label : String) (act : IO α) : IO Unit := do
  try
    discard act
    IO.println s!"{label}: no error"
  catch e =>
    IO.println s!"{label}: {e}"

/-- Deterministic bytes that are not a repeating block of the engine's size. -/
def pattern (n seed : Nat) : ByteArray := Id.run do
  let mut b := ByteArray.mkEmpty n
  let mut x := seed
  for _ in [0:n] do
    x := (x * 1103515245 + 12345) % 2147483648
    b := b.push (UInt8.ofNat (x / 65536 % 256))
  return b

def same (a b : ByteArray) : Bool := a.data == b.data

def main : IO Unit := do
  let data := pattern (512 * 1024 + 12345) 1
  writeBinFile "src.bin" data
  copyFile "src.bin" "dst.bin"
  IO.println s!"copy: {(← readBinFile "dst.bin").size} bytes, equal: {same (← readBinFile "dst.bin") data}"
  writeFile "small.txt" "hello"
  copyFile "small.txt" "dst.bin"
  IO.println s!"over a longer file: {← readFile "dst.bin"}"
  writeFile "empty.txt" ""
  copyFile "empty.txt" "empty-copy.txt"
  IO.println s!"empty: {(← readBinFile "empty-copy.txt").size} bytes"
  let tasks ← (List.range 4).mapM fun i =>
    IO.asTask (copyFile "src.bin" s!"par{i}.bin") Task.Priority.dedicated
  for t in tasks do
    discard <| IO.ofExcept t.get
  let mut allSame := true
  for i in [0:4] do
    allSame := allSame && same (← readBinFile s!"par{i}.bin") data
  IO.println s!"4 copies on 4 threads, all equal: {allSame}"
  expectErr "missing source" (copyFile "missing.txt" "out.txt")
  IO.println s!"destination created after a missing source: {← System.FilePath.pathExists "out.txt"}"
  IO.FS.createDir "d"
  expectErr "directory as source" (copyFile "d" "out.txt")
  expectErr "destination in a missing directory" (copyFile "small.txt" "nodir/out.txt")
  expectErr "directory as destination" (copyFile "small.txt" "d")
  expectErr "full device" (copyFile "src.bin" "/dev/full")
  expectErr "onto itself" (copyFile "small.txt" "./small.txt")
  IO.println s!"source kept: {← readFile "small.txt"}"
