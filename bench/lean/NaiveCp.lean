/-
The blocking baseline for bench/copy.sh: what a Lean program copies files with before
IO.FS.copyFile, one file after the other, each read whole into memory and written back.

    naivecp SRC... DSTDIR
-/
open System

def main (args : List String) : IO Unit := do
  let dstDir : FilePath := args.getLast!
  for src in args.take (args.length - 1) do
    let f := FilePath.mk src
    IO.FS.writeBinFile (dstDir / f.fileName.get!) (← IO.FS.readBinFile f)
