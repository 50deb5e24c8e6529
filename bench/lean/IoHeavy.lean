/-
A Lean program heavy on `writeFile`, `readFile` and `getLine`, for comparing the uring and posix
backends of the same toolchain. It prints a checksum so both runs can be checked for equal output.
Usage: io_heavy <dir> [files] [linesPerFile] [rounds]
-/
open IO.FS

def lineOf (f i : Nat) : String :=
  s!"file {f} line {i}: the quick brown fox jumps over the lazy dog {f * 7919 + i}"

def contents (f lines : Nat) : String := do
  let mut s := ""
  for i in [0:lines] do
    s := s ++ lineOf f i ++ "\n"
  return s

partial def countLines (h : Handle) (n acc : Nat) : IO (Nat × Nat) := do
  let line ← h.getLine
  if line.isEmpty then return (n, acc)
  countLines h (n + 1) (acc + line.length)

def main (args : List String) : IO UInt32 := do
  let dir : System.FilePath := args.headD "/tmp/io_heavy"
  let nat (i : Nat) (d : Nat) := ((args.drop i).head?.bind String.toNat?).getD d
  let files := nat 1 200
  let lines := nat 2 200
  let rounds := nat 3 5
  IO.FS.createDirAll dir
  let mut sum := 0
  for r in [0:rounds] do
    for f in [0:files] do
      writeFile (dir / s!"f{f}.txt") (contents (f + r) lines)
    for f in [0:files] do
      sum := sum + (← readFile (dir / s!"f{f}.txt")).length
    for f in [0:files] do
      let (n, len) ← countLines (← Handle.mk (dir / s!"f{f}.txt") Mode.read) 0 0
      sum := sum + n + len
  IO.println s!"checksum {sum}"
  return 0
