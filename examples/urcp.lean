/-
urcp: copy several files into a directory in parallel.

    urcp [-j N] SRC... DSTDIR

The files are dealt round-robin to N workers (default 4), each a task on its own thread that
copies its files one after the other with `IO.FS.copyFile`.  Under the io_uring backend every
worker thread gets its own ring, and each copy keeps many reads and writes in flight on it;
under `LEAN_IO_BACKEND=posix` the same program copies with a plain read/write loop.
-/
import Init.IO.Copy

open System

def usage : String := "usage: urcp [-j N] SRC... DSTDIR"

def copyAll (files : List FilePath) (dstDir : FilePath) : IO Unit :=
  for f in files do
    match f.fileName with
    | some name => IO.FS.copyFile f (dstDir / name)
    | none => throw <| IO.userError s!"urcp: {f} has no file name"

/-- The `i`-th of `n` round-robin shares of `xs`. -/
def share (xs : List α) (n i : Nat) : List α :=
  (xs.enum.filter fun (k, _) => k % n == i).map (·.2)

/-- `-j N` and the paths, or none for a malformed `-j`. -/
def parseArgs : List String → Nat → Option (Nat × List String)
  | "-j" :: n :: rest, _ =>
    match n.toNat? with
    | some k => if k > 0 then parseArgs rest k else none
    | none => none
  | args, j => some (j, args)

def main (args : List String) : IO UInt32 := do
  let (jobs, paths) := (parseArgs args 4).getD (0, [])
  if paths.length < 2 then
    IO.eprintln usage
    return 2
  let dstDir : FilePath := paths.getLast!
  let srcs : List FilePath := (paths.take (paths.length - 1)).map FilePath.mk
  let n := min jobs srcs.length
  let workers ← (List.range n).mapM fun i =>
    IO.asTask (copyAll (share srcs n i) dstDir) Task.Priority.dedicated
  let mut status : UInt32 := 0
  for w in workers do
    match w.get with
    | Except.ok () => pure ()
    | Except.error e =>
      IO.eprintln s!"urcp: {e}"
      status := 1
  return status
