/- File system calls: createDir, readDir, metadata, removeFile. -/
open IO.FS
open System

def main : IO Unit := do
  createDir "top"
  createDir "top/sub"
  writeFile "top/a.txt" "hello"
  writeFile "top/b.txt" ""
  IO.FS.createDirAll "top/x/y/z"
  let entries ← FilePath.readDir "top"
  let names := (entries.map (fun e => e.fileName)).qsort (· < ·)
  IO.println s!"readDir: {names}"
  IO.println s!"roots: {(entries.map (fun e => e.root.toString)).toList.eraseDups}"
  IO.println s!"paths: {((entries.map (fun e => e.path.toString)).qsort (· < ·))}"
  IO.println s!"readDir empty: {(← FilePath.readDir "top/sub").size}"
  let m ← FilePath.metadata "top/a.txt"
  IO.println s!"a.txt: type {repr m.type}, size {m.byteSize}"
  let m ← FilePath.metadata "top/sub"
  IO.println s!"sub: type {repr m.type}"
  let mb ← FilePath.metadata "top/b.txt"
  IO.println s!"b.txt: size {mb.byteSize}, modified after 2021: {decide (mb.modified.sec > 1600000000)}, nsec < 10^9: {decide (mb.modified.nsec.toNat < 1000000000)}"
  IO.println s!"isDir: {← FilePath.isDir "top/sub"} {← FilePath.isDir "top/a.txt"} {← FilePath.isDir "none"}"
  IO.println s!"pathExists: {← FilePath.pathExists "top/a.txt"} {← FilePath.pathExists "none"}"
  removeFile "top/a.txt"
  IO.println s!"after removeFile: {← FilePath.pathExists "top/a.txt"}"
  removeFile "top/sub"
  IO.println s!"removeFile of an empty directory: {← FilePath.pathExists "top/sub"}"
  let names ← FilePath.readDir "top"
  IO.println s!"readDir after: {(names.map (fun e => e.fileName)).qsort (· < ·)}"
  -- many entries: more than one getdents64 buffer
  createDir "many"
  for i in [0:300] do
    writeFile s!"many/file-with-a-long-name-{i}.txt" ""
  IO.println s!"readDir of 300 entries: {(← FilePath.readDir "many").size}"
