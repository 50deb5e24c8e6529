/- Typed files on fibers: every operation on real files and directories, positions shared by
fibers, and errors compared with the blocking `IO.FS` API's for the same mistake. -/
import Init.IO.File
open IO

def say (s : String) : Fiber Unit := IO.println s

def text (b : ByteArray) : String := String.fromUTF8Unchecked b

/-- The blocking API's error text for `act`, or "ok". -/
def blockingError (act : IO α) : IO String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

/-- The fiber API's error text for `act`, or "ok". -/
def fiberError (act : Fiber α) : Fiber String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

/-- Run the same mistake through both APIs: the two errors must be the same. -/
def same (what : String) (blocking : IO α) (fiber : Fiber β) : Fiber Unit := do
  let b ← (blockingError blocking : IO _)
  let f ← fiberError fiber
  say s!"{what}: {f}{if b == f then "" else s!" (blocking API: {b})"}"

partial def octal (n : Nat) : String :=
  if n < 8 then toString n else octal (n / 8) ++ toString (n % 8)

def perm (s : Ring.Stat) : String := octal (s.mode &&& (0o7777 : UInt32)).toNat

/-- Modes, inode numbers and symbolic links, as a tree copy needs them. -/
def modesAndLinks (d : String) : Fiber Unit := do
  Switch.run fun sw => do
    let f ← File.create sw s!"{d}/m.sh" (perm := 0o600)
    f.setMode 0o4751
    say s!"setMode: {perm (← f.statx)}, regular {(← f.statx).mode &&& File.sIfmt == File.sIfreg}"
  File.chmod s!"{d}/m.sh" 0o640
  File.symlink "m.sh" s!"{d}/link"
  let target := String.mk (List.replicate 300 'y')
  File.symlink target s!"{d}/long"
  let l ← File.lstat s!"{d}/link"
  let s ← Fiber.statx Ring.atFdCwd s!"{d}/link" 0 File.statxBasicStats
  say s!"chmod: {perm s}; lstat: link {l.mode &&& File.sIfmt == File.sIflnk}, {repr l.metadata.type}"
  say s!"the link and its target: same inode {l.ino == s.ino}, target's links {s.nlink}"
  say s!"readlink: {← File.readlink s!"{d}/link"}, a 300-byte target: {(← File.readlink s!"{d}/long") == target}"
  say s!"symlink over a file: {← fiberError (File.symlink "x" s!"{d}/m.sh")}"
  say s!"readlink of a file: {← fiberError (File.readlink s!"{d}/m.sh")}"
  say s!"chmod a missing path: {← fiberError (File.chmod s!"{d}/missing" 0o600)}"
  say s!"lstat a missing path: {← fiberError (File.lstat s!"{d}/missing")}"
  say s!"umask: {octal (← File.umask).toNat}"

def main : IO Unit := do
  IO.FS.createDirAll "file_test"
  Fiber.run do
    let d := "file_test"
    Switch.run fun sw => do
      let f ← File.create sw s!"{d}/a.txt"
      discard <| f.write "hello, ".toUTF8
      discard <| f.write "typed files\n".toUTF8
      say s!"position after two writes: {← f.position}"
      discard <| f.pwrite "HELLO".toUTF8 0
      say s!"position after pwrite: {← f.position}"
      let (n, buf) ← f.pread (ByteArray.mkEmpty 64) 0
      say s!"pread 0: {n} {repr (text buf)}"
      f.fsync
      f.fsync (dataOnly := true)
      say s!"stat: {(← f.stat).byteSize} bytes, {repr (← f.stat).type}"
      f.close
      say s!"read after close: {← fiberError (f.read (ByteArray.mkEmpty 4))}"
      f.close
      say "closing twice: ok"
    -- Reading one file from three fibers at once: each read gets the next range.
    Switch.run fun sw => do
      let f ← File.open sw s!"{d}/a.txt"
      let out ← IO.mkRef #[]
      for i in [0:3] do
        Fiber.fork sw do
          let (n, buf) ← f.read (ByteArray.mkEmpty 6)
          out.modify (·.push (i, n, text buf))
      Fiber.yield
      let (n, rest) ← f.read (ByteArray.mkEmpty 64)
      for (i, n, s) in ← out.get do say s!"reader {i}: {n} {repr s}"
      say s!"then: {n} {repr (text rest)}, position {← f.position}"
      let (n, _) ← f.read (ByteArray.mkEmpty 64)
      say s!"at the end: {n}"
    -- Append mode writes at the end, whatever the position.
    Switch.run fun sw => do
      let f ← File.open sw s!"{d}/a.txt" IO.FS.Mode.append
      discard <| f.write "appended\n".toUTF8
    say s!"after append: {repr (← IO.FS.readFile s!"{d}/a.txt")}"
    -- A large write and read back: 3 MiB + 5 in one buffer.
    Switch.run fun sw => do
      let seed := (List.range 1021).foldl (init := ByteArray.empty) fun b i => b.push (i % 251 : Nat).toUInt8
      let big := (List.range 12).foldl (init := seed) (fun b _ => b ++ b) |>.extract 0 (3 * 1024 * 1024 + 5)
      let f ← File.create sw s!"{d}/big.bin" (perm := 0o600)
      discard <| f.write big
      let f ← File.open sw s!"{d}/big.bin"
      let (n, back) ← f.read (ByteArray.mkEmpty (4 * 1024 * 1024))
      say s!"big: wrote {big.size}, read {n}, equal {back == big}"
    -- Directory operations.
    File.mkdir s!"{d}/sub"
    File.mkdir s!"{d}/sub/inner" 0o700
    Switch.run fun sw => do discard <| File.create sw s!"{d}/sub/x"
    File.rename s!"{d}/sub/x" s!"{d}/sub/y"
    let names := (← File.readDir s!"{d}/sub").map (·.fileName)
    say s!"readDir: {names.qsort (· < ·)}"
    say s!"statPath: {repr (← File.statPath s!"{d}/sub").type}"
    File.unlink s!"{d}/sub/y"
    File.rmdir s!"{d}/sub/inner"
    File.rmdir s!"{d}/sub"
    say s!"removed: {← (System.FilePath.pathExists s!"{d}/sub" : IO _)}"
    -- Errors: the same kinds and names as the blocking API.
    Switch.run fun sw => do
      same "open a missing file" (IO.FS.Handle.mk s!"{d}/missing" IO.FS.Mode.read)
        (File.open sw s!"{d}/missing")
      same "read a directory as a file"
        (do let h ← IO.FS.Handle.mk d IO.FS.Mode.read; h.read 10)
        (do let f ← File.open sw d; f.read (ByteArray.mkEmpty 10))
      same "create a file in a missing directory" (IO.FS.Handle.mk s!"{d}/no/x" IO.FS.Mode.write)
        (File.create sw s!"{d}/no/x")
      same "open a directory for writing" (IO.FS.Handle.mk d IO.FS.Mode.write)
        (File.open sw d IO.FS.Mode.write)
      same "mkdir over a file" (IO.FS.createDir s!"{d}/a.txt") (File.mkdir s!"{d}/a.txt")
      same "unlink a missing file" (IO.FS.removeFile s!"{d}/missing") (File.unlink s!"{d}/missing")
      say s!"create exclusive over a file: {← fiberError (File.create sw s!"{d}/a.txt" (exclusive := true))}"
      say s!"rmdir a file: {← fiberError (File.rmdir s!"{d}/a.txt")}"
      say s!"rename a missing file: {← fiberError (File.rename s!"{d}/missing" s!"{d}/b")}"
      File.mkdir s!"{d}/full"
      Switch.run fun sw => do discard <| File.create sw s!"{d}/full/f"
      say s!"rmdir a non-empty directory: {← fiberError (File.rmdir s!"{d}/full")}"
      say s!"stat a missing path: {← fiberError (File.statPath s!"{d}/missing")}"
    modesAndLinks d
  IO.println "done"
