/-
Byte streams on fibers (lean-uring), in the style of Eio's `Flow`: a `Source` gives bytes, a
`Sink` takes them, and `Flow.copy src dst` moves everything from one to the other.

```
Switch.run fun sw => do
  let src ← File.open sw "in.bin"
  let dst ← File.create sw "out.bin"
  let n ← Flow.copy src dst
```

`Flow.copy` asks the sink for a fast path first (`Sink.copyFrom`), as Eio does:
* **file to file**: `copy_file_range(2)` in chunks, yielding between them (the kernel copies
  without the bytes reaching user space); where the kernel refuses it (`EXDEV`, `EINVAL`,
  `EOPNOTSUPP`, `ENOSYS`), a pipeline of `depth` positional reads and writes in flight on the
  ring, each block read and written at its own offset exactly once;
* **to or from a socket** (from a file or another socket): `splice(2)` on the ring, through a
  pipe of its own.  Not with a pipe the program holds: the ring runs a splice on a blocking
  pipe in a kernel worker that waits on the pipe, which hung Eio (eio#319), and one on a
  non-blocking pipe fails with `EAGAIN`; nor where the kernel refuses the pair (`EINVAL`):
  then
* **otherwise**: a double-buffered loop, one read and one write in flight.

`CopyOptions` turns each fast path off.  An error ends the copy with an `IO.Error` whose text
names the side: `reading <source>` or `writing <sink>`.
-/
prelude
import Init.IO.File
import Init.IO.Net

namespace IO

/-- `e` with `context` before its text (same kind and code, so callers can still match on it). -/
def Error.withContext (context : String) : IO.Error → IO.Error
  | alreadyExists c d => alreadyExists c s!"{context}: {d}"
  | otherError c d => otherError c s!"{context}: {d}"
  | resourceBusy c d => resourceBusy c s!"{context}: {d}"
  | resourceVanished c d => resourceVanished c s!"{context}: {d}"
  | unsupportedOperation c d => unsupportedOperation c s!"{context}: {d}"
  | hardwareFault c d => hardwareFault c s!"{context}: {d}"
  | unsatisfiedConstraints c d => unsatisfiedConstraints c s!"{context}: {d}"
  | illegalOperation c d => illegalOperation c s!"{context}: {d}"
  | protocolError c d => protocolError c s!"{context}: {d}"
  | timeExpired c d => timeExpired c s!"{context}: {d}"
  | interrupted f c d => interrupted f c s!"{context}: {d}"
  | noFileOrDirectory f c d => noFileOrDirectory f c s!"{context}: {d}"
  | invalidArgument f c d => invalidArgument f c s!"{context}: {d}"
  | permissionDenied f c d => permissionDenied f c s!"{context}: {d}"
  | resourceExhausted f c d => resourceExhausted f c s!"{context}: {d}"
  | inappropriateType f c d => inappropriateType f c s!"{context}: {d}"
  | noSuchThing f c d => noSuchThing f c s!"{context}: {d}"
  | unexpectedEof => userError s!"{context}: unexpected end of file"
  | userError m => userError s!"{context}: {m}"

namespace Flow

open Fiber

/-- What an endpoint is, as far as the fast paths care. -/
inductive Kind where
  | file | pipe | socket | memory | other
  deriving BEq, Inhabited

/-- The kind of an open fd. -/
def kindOf (fd : Int) : IO Kind := do
  let (mode, _) ← IO.Net.Sys.fdInfo fd
  let t := mode &&& File.sIfmt
  pure (if t == File.sIfreg || t == File.sIfblk then Kind.file
    else if t == File.sIfifo then Kind.pipe
    else if t == File.sIfsock then Kind.socket
    else Kind.other)

/-- Which fast paths `copy` may take, and the sizes of its loops. -/
structure CopyOptions where
  copyFileRange : Bool := true
  splice : Bool := true
  /-- Positional reads and writes in flight in the file-to-file pipeline. -/
  depth : Nat := 8
  /-- Bytes per read or write of the pipeline and of the generic loop. -/
  block : Nat := 128 * 1024
  /-- Bytes per `copy_file_range` call between yields. -/
  chunk : Nat := 8 * 1024 * 1024
  deriving Inhabited

/-- Where an endpoint's bytes are, for a fast path: the fd and, for a file with a position of
its own (`File`), that file. -/
structure Endpoint where
  kind : Kind := Kind.other
  fd? : Option Fd := none
  file? : Option File := none
  deriving Inhabited

/-- A source of bytes. -/
structure Source where
  name : String
  endpoint : Endpoint := {}
  /-- Read into the buffer's spare capacity: `(n, buffer)`, `n = 0` at the end. -/
  read : ByteArray → Fiber (Nat × ByteArray)

/-- A sink for bytes. -/
structure Sink where
  name : String
  endpoint : Endpoint := {}
  /-- Write every byte of the buffer; the buffer comes back. -/
  write : ByteArray → Fiber ByteArray
  /-- A fast path for copying `src` here: the count, or `none` to use the generic loop. -/
  copyFrom : Source → CopyOptions → Fiber (Option Nat) := fun _ _ => pure none

/-- What can be read as a `Source`. -/
class ToSource (α : Type) where
  toSource : α → Source

/-- What can be written as a `Sink`. -/
class ToSink (α : Type) where
  toSink : α → Sink

instance : ToSource Source := ⟨id⟩
instance : ToSink Sink := ⟨id⟩

/-- The copy's error, naming its side. -/
private def reading (src : Source) (x : Fiber α) : Fiber α :=
  tryCatch x fun e => throw (if e.isCancelled then e else e.withContext s!"reading {src.name}")

private def writing (dst : Sink) (x : Fiber α) : Fiber α :=
  tryCatch x fun e => throw (if e.isCancelled then e else e.withContext s!"writing {dst.name}")

/-- The generic loop: one read and one write in flight, each buffer written while the other
fills. -/
partial def copyGeneric (src : Source) (dst : Sink) (opts : CopyOptions := {}) : Fiber Nat := do
  let rec go (full : ByteArray) (spare : ByteArray) (total : Nat) : Fiber Nat := do
    if full.size == 0 then return total
    let (written, (_, next)) ← both (writing dst (dst.write full)) (reading src (src.read spare))
    go next (Ring.clear written) (total + full.size)
  let (_, first) ← reading src (src.read (ByteArray.mkEmpty opts.block))
  go first (ByteArray.mkEmpty opts.block) 0

/-- The errnos after which the kernel cannot `copy_file_range` this pair at all. -/
private def copyFileRangeRefused (res : Int) : Bool :=
  res == -18 || res == -22 || res == -95 || res == -38

/-- `copy_file_range` from `inOff` to `outOff`, chunk by chunk with a yield between: the count
copied before the end of the source, or `none` if the kernel refused the first chunk. -/
private partial def copyRange (src : Source) (dst : Sink) (fin fout : Fd) (inOff outOff : UInt64)
    (opts : CopyOptions) (done : Nat := 0) : Fiber (Option Nat) := do
  let res ← fin.use (fout.use (liftIO (IO.Net.Sys.copyFileRange fin.fd (inOff + done.toUInt64)
    fout.fd (outOff + done.toUInt64) opts.chunk.toUInt64)))
  if res > 0 then
    Fiber.yield
    copyRange src dst fin fout inOff outOff opts (done + res.toNat)
  else if res == 0 then pure (some done)
  else if done == 0 && copyFileRangeRefused res then pure none
  else
    let e := (Ring.errorOf res "").withContext s!"copy_file_range from {src.name} to {dst.name}"
    throw e

/-- The ring pipeline: `depth` workers, each taking the next block, reading it at its offset
(resubmitting short reads) and writing it at the same offset.  The first read that meets the
end stops the claiming; the count is where the source ended. -/
partial def copyPipeline (src dst : File) (srcName dstName : String) (inOff outOff : UInt64)
    (opts : CopyOptions) : Fiber Nat := do
  let next ← IO.mkRef 0
  let endAt ← IO.mkRef (none : Option Nat)
  let block := max opts.block 1
  -- Fill `buf` from `off` until it holds `want` bytes or the source ends.
  let rec fill (buf : ByteArray) (off : Nat) (want : Nat) : Fiber ByteArray := do
    if buf.size ≥ want then return buf
    let (n, buf) ← tryCatch (src.pread buf (inOff + off.toUInt64)) fun e =>
      throw (e.withContext s!"reading {srcName}")
    if n == 0 then return buf
    fill buf (off + n) want
  let rec worker (buf : ByteArray) : Fiber Unit := do
    let i ← next.modifyGet fun i => (i, i + 1)
    let off := i * block
    if let some e := ← endAt.get then if off ≥ e then return
    let buf ← fill buf off block
    if buf.size < block then
      endAt.modify fun e => some (match e with | some e => min e (off + buf.size) | none => off + buf.size)
    if buf.size > 0 then
      let buf ← tryCatch (dst.pwrite buf (outOff + off.toUInt64)) fun e =>
        throw (e.withContext s!"writing {dstName}")
      if buf.size == block then worker (Ring.clear buf)
  Switch.run fun sw => do
    for _ in [0:max opts.depth 1] do
      fork sw (worker (ByteArray.mkEmpty block))
  match ← endAt.get with
  | some e => pure e
  | none => throw (IO.userError "Flow.copy: internal error: the pipeline ended before the source")

/-- File to file: `copy_file_range`, else the ring pipeline; both files' positions move on by
the count. -/
def copyFiles (src : Source) (dst : Sink) (fs fd : File) (opts : CopyOptions) : Fiber Nat := do
  let inOff ← fs.position
  let outOff ← fd.position
  let viaRange ← (if opts.copyFileRange then copyRange src dst fs.fd fd.fd inOff outOff opts
    else pure none)
  let n ← match viaRange with
    | some n => pure n
    | none => copyPipeline fs fd src.name dst.name inOff outOff opts
  fs.seek (inOff + n.toUInt64)
  fd.seek (outOff + n.toUInt64)
  pure n

/-- Splice until the source ends, through a pipe of its own: each splice into the pipe is
drained into the sink before the next, so neither splice waits on the pipe.  `none` if the
kernel refused the first splice. -/
partial def copySplice (src : Source) (dst : Sink) (fin fout : Fd) (opts : CopyOptions) :
    Fiber (Option Nat) := do
  let inOff ← match src.endpoint.file? with
    | some f => some <$> f.position
    | none => pure none
  let outOff ← match dst.endpoint.file? with
    | some f => some <$> f.position
    | none => pure none
  let len := (min opts.block (1 <<< 30)).toUInt32
  let at? (o : Option UInt64) (done : Nat) := match o with
    | some o => o + done.toUInt64
    | none => Ring.noOffset
  let spliceRes (a : Fd) (aOff : UInt64) (b : Fd) (bOff : UInt64) (n : UInt32) : Fiber Int := do
    let c ← a.use (b.use (submit fun r u => r.splice a.fd aOff b.fd bOff n 0 u))
    pure c.res
  let finish (n : Nat) : Fiber (Option Nat) := do
    if let some f := src.endpoint.file? then f.seek (inOff.getD 0 + n.toUInt64)
    if let some f := dst.endpoint.file? then f.seek (outOff.getD 0 + n.toUInt64)
    pure (some n)
  let failed (res : Int) (side : String) : IO.Error :=
    (Ring.errorOf res "").withContext s!"{side} (splice)"
  let (pr, pw) ← (Ring.pipe : IO _)
  let pin ← Fd.mk' pr "splice pipe"
  let pout ← Fd.mk' pw "splice pipe"
  -- What one splice put in the pipe goes out before the next, at the sink's offset.
  let rec drain (done : Nat) (n : Nat) : Fiber Unit := do
    if n == 0 then return
    let res ← spliceRes pin Ring.noOffset fout (at? outOff done) n.toUInt32
    if res > 0 then drain (done + res.toNat) (n - res.toNat)
    else throw (failed (if res == 0 then -32 else res) s!"writing {dst.name}")
  let rec pump (done : Nat) : Fiber (Option Nat) := do
    let res ← spliceRes fin (at? inOff done) pout Ring.noOffset len
    if res > 0 then
      drain done res.toNat
      pump (done + res.toNat)
    else if res == 0 then finish done
    else if done == 0 && res == -22 then pure none
    else throw (failed res s!"reading {src.name}")
  try pump 0 finally do
    pin.close
    pout.close

/-- The fast path a sink with an fd offers: see the module's notes. -/
def fdCopyFrom (src : Source) (dst : Sink) (opts : CopyOptions) : Fiber (Option Nat) := do
  let srcEp := src.endpoint
  let dstEp := dst.endpoint
  match srcEp.file?, dstEp.file? with
  | some fs, some fd =>
    if !fd.append then return some (← copyFiles src dst fs fd opts)
  | _, _ => pure ()
  match srcEp.fd?, dstEp.fd? with
  | some fin, some fout =>
    let spliceable (ep : Endpoint) :=
      ep.kind == Kind.socket || (ep.kind == Kind.file && ep.file?.isSome)
    let dstOk := dstEp.file?.all (!·.append)
    if opts.splice && (srcEp.kind == Kind.socket || dstEp.kind == Kind.socket) &&
        spliceable srcEp && spliceable dstEp && dstOk then
      copySplice src dst fin fout opts
    else pure none
  | _, _ => pure none

/-- A sink over an fd, offering `fdCopyFrom`'s fast paths. -/
def fdSink (name : String) (ep : Endpoint) (write : ByteArray → Fiber ByteArray) : Sink :=
  let plain : Sink := { name := name, endpoint := ep, write := write }
  { plain with copyFrom := fun src opts => fdCopyFrom src plain opts }

/-- Copy everything `src` gives into `dst` until `src` ends: the count.  The sink's fast path
is tried first (see the module's notes). -/
def copy [ToSource α] [ToSink β] (src : α) (dst : β) (opts : CopyOptions := {}) : Fiber Nat := do
  let src := ToSource.toSource src
  let dst := ToSink.toSink dst
  match ← dst.copyFrom src opts with
  | some n => pure n
  | none => copyGeneric src dst opts

/-- A file's endpoint: a file with its position for a regular file, else a stream. -/
private def fileEndpoint (f : File) : Endpoint :=
  { kind := if f.positioned then Kind.file else Kind.other, fd? := some f.fd,
    file? := if f.positioned then some f else none }

instance : ToSource File where
  toSource f := { name := f.path, endpoint := fileEndpoint f, read := f.read }

instance : ToSink File where
  toSink f := fdSink f.path (fileEndpoint f) f.write

private def socketEndpoint (s : Net.Socket) : Endpoint := { kind := Kind.socket, fd? := some s.fd }

instance : ToSource Net.Socket where
  toSource s := { name := s.fd.name, endpoint := socketEndpoint s, read := s.recv }

instance : ToSink Net.Socket where
  toSink s := fdSink s.fd.name (socketEndpoint s) s.sendAll

/-- A pipe, a terminal or any other stream fd (the standard streams included), read and written
at the kernel's position. -/
structure Pipe where
  fd : Fd
  kind : Kind

namespace Pipe

/-- `fd` as a `Pipe`, closed by `sw` when `owned`. -/
def ofFd (sw : Switch) (fd : Int) (name : String) (owned := true) : Fiber Pipe := do
  let p : Pipe := { fd := ← Fd.mk' fd name owned, kind := ← (kindOf fd : IO _) }
  if owned then p.fd.closeOn sw
  pure p

/-- A new pipe `(readEnd, writeEnd)`, both closed by `sw`. -/
def create (sw : Switch) : Fiber (Pipe × Pipe) := do
  let (r, w) ← (Ring.pipe : IO _)
  pure (← ofFd sw r "pipe (read end)", ← ofFd sw w "pipe (write end)")

/-- Read into `buffer`'s spare capacity, at the kernel's position. -/
def read (p : Pipe) (buffer : ByteArray) : Fiber (Nat × ByteArray) :=
  p.fd.use (Fiber.read p.fd.fd buffer)

/-- Write every byte of `buffer`, at the kernel's position. -/
def write (p : Pipe) (buffer : ByteArray) : Fiber ByteArray :=
  writeAll (fun b _ => p.fd.use (Fiber.write p.fd.fd b)) buffer

/-- Close now (after the operations in flight). -/
def close (p : Pipe) : Fiber Unit := p.fd.close

private def endpoint (p : Pipe) : Endpoint :=
  { kind := if p.kind == Kind.file then Kind.other else p.kind, fd? := some p.fd }

end Pipe

instance : ToSource Pipe where
  toSource p := { name := p.fd.name, endpoint := p.endpoint, read := p.read }

instance : ToSink Pipe where
  toSink p := fdSink p.fd.name p.endpoint p.write

/-- The standard input as a `Pipe` (not closed by the switch).  Bytes the runtime's own `stdin`
stream has read ahead are not in it: read stdin one way or the other. -/
def stdin (sw : Switch) : Fiber Pipe := Pipe.ofFd sw 0 "stdin" (owned := false)

/-- The standard output as a `Pipe` (not closed by the switch); what `IO.print` buffered is
flushed first, so the two stay in order. -/
def stdout (sw : Switch) : Fiber Pipe := do
  (← IO.getStdout).flush
  Pipe.ofFd sw 1 "stdout" (owned := false)

/-- The standard error, as `stdout`. -/
def stderr (sw : Switch) : Fiber Pipe := do
  (← IO.getStderr).flush
  Pipe.ofFd sw 2 "stderr" (owned := false)

/-- An in-memory source: the bytes of an array, from the start. -/
structure Bytes where
  data : ByteArray
  pos : IO.Ref Nat

/-- A source reading `data`. -/
def Bytes.ofByteArray (data : ByteArray) : IO Bytes := do
  pure { data := data, pos := ← IO.mkRef 0 }

instance : ToSource Bytes where
  toSource b := {
    name := "memory", endpoint := { kind := Kind.memory },
    read := fun buf => do
      let p ← b.pos.get
      let n := min (buf.capacity - buf.size) (b.data.size - p)
      b.pos.set (p + n)
      pure (n, b.data.copySlice p buf buf.size n) }

/-- An in-memory sink: what it is given, appended. -/
structure Buffer where
  contents : IO.Ref ByteArray

/-- An empty in-memory sink. -/
def Buffer.create : IO Buffer := do pure { contents := ← IO.mkRef ByteArray.empty }

/-- Everything written so far. -/
def Buffer.get (b : Buffer) : IO ByteArray := b.contents.get

instance : ToSink Buffer where
  toSink b := {
    name := "memory", endpoint := { kind := Kind.memory },
    write := fun buf => do
      b.contents.modify (· ++ buf)
      pure buf }

end Flow
end IO
