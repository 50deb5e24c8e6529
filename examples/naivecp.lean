/-
naivecp: the blocking baseline for urcp (issue 9), written as an ordinary Lean user would write
a copy: `IO.FS.Handle` reads of 64 KiB and writes, one file after the other, and
`System.FilePath.readDir` recursion for directories.

    naivecp [-r] SRC... DST

The arguments follow cp's rules: one SRC and a DST that is not a directory copies SRC to DST;
otherwise every SRC goes into the existing directory DST under its own name.  `-r` copies
directories (a DST that does not exist becomes the copy); without it a directory is reported
and skipped.  A failing file is reported on stderr and the others are still copied; the exit
code is then 1.

Not kept, unlike urcp: permission bits (files get 0o666 less the umask), symbolic links (they are
followed: a link to a directory is copied as a directory, a dangling one is an error), and
nothing guards against copying a directory into itself.

Build and run:
    lean -c naivecp.c naivecp.lean && leanc -O3 -o naivecp naivecp.c
    ./naivecp -r tree copy
-/
open System

def usage : String := "usage: naivecp [-r] SRC... DST"

partial def copyLoop (src dst : IO.FS.Handle) : IO Unit := do
  let buf ← src.read 65536
  unless buf.isEmpty do
    dst.write buf
    copyLoop src dst

def copyFile (src dst : FilePath) : IO Unit := do
  let i ← IO.FS.Handle.mk src IO.FS.Mode.read
  let o ← IO.FS.Handle.mk dst IO.FS.Mode.write
  copyLoop i o

/-- Copy `src` to `dst` (`dst/...` for a directory), reporting each failure and carrying on:
whether everything was copied. -/
partial def copyPath (recursive : Bool) (src dst : FilePath) : IO Bool := do
  try
    if ← src.isDir then
      if !recursive then
        IO.eprintln s!"naivecp: -r not specified; omitting directory '{src}'"
        return false
      unless ← dst.isDir do IO.FS.createDir dst
      let mut ok := true
      for e in ← src.readDir do
        ok := (← copyPath recursive e.path (dst / e.fileName)) && ok
      return ok
    copyFile src dst
    return true
  catch e =>
    IO.eprintln s!"naivecp: {src}: {e}"
    return false

/-- A path without its trailing slashes, so that `dir/` is named `dir`. -/
def trimSlashes (p : String) : String :=
  let t := p.dropRightWhile (· == '/')
  if t.isEmpty then p else t

def main (args : List String) : IO UInt32 := do
  let recursive := args.contains "-r"
  let paths := (args.filter (· != "-r")).map trimSlashes
  if paths.length < 2 || paths.any (·.startsWith "-") then
    IO.eprintln usage
    return 1
  let dst : FilePath := paths.getLast!
  let srcs := (paths.take (paths.length - 1)).map FilePath.mk
  let intoDir ← dst.isDir
  if !intoDir && srcs.length > 1 then
    IO.eprintln s!"naivecp: target '{dst}' is not a directory"
    return 1
  let mut ok := true
  for src in srcs do
    let target := if intoDir then dst / (src.fileName.getD "") else dst
    ok := (← copyPath recursive src target) && ok
  return if ok then 0 else 1
