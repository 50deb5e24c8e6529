/-
Typed files on fibers (lean-uring): `File.open` and `File.create` give a `File` bound to a
switch, which closes it when the switch finishes; every operation goes through the thread's
ring (or its emulation under the posix backend) and parks only its own fiber.

```
Switch.run fun sw => do
  let f ← File.open sw "data.bin"
  let (n, buf) ← f.read (ByteArray.mkEmpty 4096)
```

* **Positions.**  A regular file's position is the `File`'s own: `read` and `write` claim
  their range when they are submitted, so fibers reading one `File` get consecutive ranges,
  and no operation depends on the kernel's file position, which the ring does not lock.
  `pread` and `pwrite` take an explicit offset and leave the position alone.  A pipe or a
  terminal opened by path is read and written at the kernel's position.
* **Buffers move** in and come back, as with `Fiber.read`: `read` fills the buffer's spare
  capacity and returns `(n, buffer)`; `write` writes every byte (resubmitting a short write)
  and returns the buffer.
* **Errors** are those of the blocking `IO.FS` API, with the same kinds and file names:
  opening names the path, reading and writing name nothing, as `IO.FS.Handle` does.
* `readDir` lists a directory with one blocking `getdents64` loop: the ring has no opcode for
  it, so the thread's other fibers wait while it runs.  The same holds for `readlink`,
  `symlink`, `chmod` and `setMode`, each one short syscall.
-/
prelude
import Init.IO.Fd
import Init.IO.NetPrim

namespace IO

/-- An open file whose operations run on fibers. -/
structure File where
  fd : Fiber.Fd
  /-- The path it was opened by, as errors name it. -/
  path : String
  /-- Whether the `File` keeps the position (a regular file or a block device). -/
  positioned : Bool
  append : Bool
  pos : IO.Ref UInt64

namespace File

open Fiber

/-- `open(2)` flags the API uses. -/
def oRdonly : UInt32 := 0
def oWronly : UInt32 := 1
def oRdwr : UInt32 := 2
def oCreat : UInt32 := 0o100
def oExcl : UInt32 := 0o200
def oTrunc : UInt32 := 0o1000
def oAppend : UInt32 := 0o2000
def oCloexec : UInt32 := 0o2000000

/-- `st_mode`'s file type bits and the kinds the API distinguishes. -/
def sIfmt : UInt32 := 0o170000
def sIfreg : UInt32 := 0o100000
def sIfblk : UInt32 := 0o060000
def sIfdir : UInt32 := 0o040000
def sIfifo : UInt32 := 0o010000
def sIfsock : UInt32 := 0o140000
def sIfchr : UInt32 := 0o020000
def sIflnk : UInt32 := 0o120000
/-- `statx`'s flags and mask: the path is empty (the fd itself), a final link is not followed,
and the basic fields (`STATX_BASIC_STATS`). -/
def atEmptyPath : UInt32 := 0x1000
def atSymlinkNofollow : UInt32 := 0x100
def statxBasicStats : UInt32 := 0x7ff

/-- The flags `IO.FS.Handle.mk` opens with for each mode, as `fopen` maps them. -/
def flagsOf : IO.FS.Mode → UInt32
  | IO.FS.Mode.read => oRdonly
  | IO.FS.Mode.write => oWronly ||| oCreat ||| oTrunc
  | IO.FS.Mode.readWrite => oRdwr
  | IO.FS.Mode.append => oWronly ||| oCreat ||| oAppend

/-- A `File` for the open descriptor `fd`, closed by `sw`. -/
def ofFd (sw : Switch) (fd : Int) (path : String) (append : Bool := false) (owned := true) :
    Fiber File := do
  let (mode, _) ← (IO.Net.Sys.fdInfo fd : IO _)
  let kind := mode &&& sIfmt
  let f : File := {
    fd := ← Fd.mk' fd path owned, path := path, append := append,
    positioned := kind == sIfreg || kind == sIfblk, pos := ← IO.mkRef 0 }
  f.fd.closeOn sw
  pure f

/-- `openat(2)` through the ring, close-on-exec. -/
private def openFd (path : String) (flags perm : UInt32) : Fiber Int :=
  Fiber.openAt Ring.atFdCwd path (flags ||| oCloexec) perm

/-- Open `path` in `mode` (as `IO.FS.Handle.mk` does: `write` truncates or creates, `append`
creates, with permissions `0o666` less the umask), bound to `sw`. -/
def «open» (sw : Switch) (path : String) (mode : IO.FS.Mode := IO.FS.Mode.read) : Fiber File := do
  let fd ← openFd path (flagsOf mode) 0o666
  ofFd sw fd path (append := match mode with | IO.FS.Mode.append => true | _ => false)

/-- Create `path` for reading and writing with permissions `perm` (less the umask), bound to
`sw`: an existing file is truncated, or refused with `alreadyExists` when `exclusive`. -/
def create (sw : Switch) (path : String) (perm : UInt32 := 0o644) (exclusive := false) :
    Fiber File := do
  let flags := oRdwr ||| oCreat ||| (if exclusive then oExcl else oTrunc)
  ofFd sw (← openFd path flags perm) path

/-- Read at `offset` into `buffer`'s spare capacity: `(n, buffer)`, `n = 0` at end of file.
The position does not move. -/
def pread (f : File) (buffer : ByteArray) (offset : UInt64) : Fiber (Nat × ByteArray) :=
  f.fd.use (Fiber.readAt f.fd.fd buffer offset)

/-- Write all of `buffer` at `offset` (short writes are resubmitted); the buffer comes back.
The position does not move. -/
def pwrite (f : File) (buffer : ByteArray) (offset : UInt64) : Fiber ByteArray :=
  writeAll (fun b done => f.fd.use (Fiber.writeAt f.fd.fd b (offset + done.toUInt64))) buffer

/-- Claim `len` bytes at the position: the offset they start at. -/
private def claim (f : File) (len : Nat) : IO UInt64 :=
  f.pos.modifyGet fun p => (p, p + len.toUInt64)

/-- Give back what a transfer claimed and did not use, unless another has claimed since. -/
private def settle (f : File) (off : UInt64) (claimed done : Nat) : IO Unit :=
  f.pos.modify fun p => if p == off + claimed.toUInt64 then off + done.toUInt64 else p

/-- Read at the position into `buffer`'s spare capacity: `(n, buffer)`, `n = 0` at end of file. -/
def read (f : File) (buffer : ByteArray) : Fiber (Nat × ByteArray) := do
  if !f.positioned then return ← f.fd.use (Fiber.read f.fd.fd buffer)
  let len := buffer.capacity - buffer.size
  let off ← f.claim len
  try
    let (n, buffer) ← f.pread buffer off
    f.settle off len n
    pure (n, buffer)
  catch e =>
    f.settle off len 0
    throw e

/-- Write all of `buffer` at the position (at the end, in append mode); the buffer comes back. -/
def write (f : File) (buffer : ByteArray) : Fiber ByteArray := do
  if f.positioned && !f.append then
    let off ← f.claim buffer.size
    try f.pwrite buffer off catch e => do f.settle off buffer.size 0; throw e
  else
    writeAll (fun b _ => f.fd.use (Fiber.write f.fd.fd b)) buffer

/-- The position `read` and `write` use next. -/
def position (f : File) : Fiber UInt64 := f.pos.get

/-- Move the position (a regular file's only). -/
def seek (f : File) (offset : UInt64) : Fiber Unit := f.pos.set offset

/-- `statx` on the open file, with its mode, inode and link count. -/
def statx (f : File) : Fiber Ring.Stat :=
  f.fd.use (Fiber.statx f.fd.fd "" atEmptyPath statxBasicStats)

/-- `statx` on the open file: its metadata. -/
def stat (f : File) : Fiber IO.FS.Metadata :=
  return (← f.statx).metadata

/-- Set the open file's permission bits (`fchmod`, a blocking call), umask aside. -/
def setMode (f : File) (mode : UInt32) : Fiber Unit :=
  f.fd.use (liftIO (IO.FS.Sys.fchmod f.fd.fd mode))

/-- Flush the file's data (and, unless `dataOnly`, its metadata) to the device. -/
def fsync (f : File) (dataOnly := false) : Fiber Unit :=
  f.fd.use do discard <| check (← submit fun r u => r.fsync f.fd.fd dataOnly u)

/-- Close now, after the operations in flight (`Fd.close`); the switch will not close it again. -/
def close (f : File) : Fiber Unit := f.fd.close

/-- Create the directory `path` with permissions `perm` (less the umask). -/
def mkdir (path : String) (perm : UInt32 := 0o777) : Fiber Unit := do
  discard <| check (← submit fun r u => r.mkdirAt Ring.atFdCwd path perm u) path

/-- Remove the file `path` (not a directory: see `rmdir`). -/
def unlink (path : String) : Fiber Unit := do
  discard <| check (← submit fun r u => r.unlinkAt Ring.atFdCwd path 0 u) path

/-- Remove the empty directory `path`. -/
def rmdir (path : String) : Fiber Unit := do
  discard <| check (← submit fun r u => r.unlinkAt Ring.atFdCwd path 0x200 u) path

/-- Rename `src` to `dst`, replacing `dst` if it exists. -/
def rename (src dst : String) : Fiber Unit := do
  discard <| check (← submit fun r u => r.renameAt Ring.atFdCwd src Ring.atFdCwd dst 0 u) src

/-- The entries of the directory `path`, without `.` and `..`, as `System.FilePath.readDir`
gives them (a blocking call: see the module's notes). -/
def readDir (path : String) : Fiber (Array IO.FS.DirEntry) :=
  liftIO (System.FilePath.readDir path)

/-- The metadata of `path`, following symbolic links. -/
def statPath (path : String) : Fiber IO.FS.Metadata :=
  return (← Fiber.statx Ring.atFdCwd path 0 statxBasicStats).metadata

/-- `statx` of `path` itself, a symbolic link not followed (as `lstat`). -/
def lstat (path : String) : Fiber Ring.Stat :=
  Fiber.statx Ring.atFdCwd path atSymlinkNofollow statxBasicStats

/-- The target of the symbolic link `path` (a blocking call: io_uring has no `readlink`). -/
def readlink (path : String) : Fiber String := liftIO (IO.FS.Sys.readlink path)

/-- Create the symbolic link `path` to `target` (a blocking call). -/
def symlink (target path : String) : Fiber Unit := liftIO (IO.FS.Sys.symlink target path)

/-- Set the permission bits of `path` (`chmod`, a blocking call), umask aside. -/
def chmod (path : String) (mode : UInt32) : Fiber Unit := liftIO (IO.FS.Sys.chmod path mode)

/-- Whether `fd` is a terminal (as `isatty`). -/
def isTerminal (fd : Int) : IO Bool := IO.FS.Sys.isatty fd

/-- The process's umask (see `IO.FS.Sys.umask`: read it before starting threads). -/
def umask : IO UInt32 := IO.FS.Sys.umask

end File
end IO
