/-
urcp: copy files and directory trees on fibers, many files and many operations in flight at
once (issue 9), in the spirit of ocaml-uring's `urcp`.

    urcp [-r] [-j N] [--depth D] [--progress|--no-progress] [--copy-file-range] SRC... DST

The arguments follow cp's rules: one SRC and a DST that is not a directory copies SRC to DST;
otherwise every SRC goes into the existing directory DST under its own name.  `-r` copies
directories (a DST that does not exist becomes the copy; an existing one gets SRC inside it);
without it a directory is reported and skipped.  Kept: contents, permission bits (setuid,
setgid and sticky included) and symbolic links, copied as links and never followed (as `cp -r`
does; without `-r` a link named on the command line is followed, as cp does).  Other file types
are reported and skipped.  Any failure is reported as `urcp: <path>: <error>`, the rest is still
copied, and the exit code is 1.

How it runs:
* the main thread walks the sources first, on fibers: `statx` (lstat) of every entry and
  `mkdirat` of every directory go through the ring, `depth` at a time; only the listing
  (`getdents64`) blocks, once per directory;
* then `-j N` threads (default 2), each a fiber scheduler with its own ring (`Fiber.runInThreads`),
  take the files from one shared queue, largest first.  Each thread runs `--depth D` lanes
  (default 64), a lane being one operation in flight: every lane copies a file, and a file larger
  than a block borrows the thread's idle lanes to keep several blocks in flight, each read with
  `pread` and written with `pwrite` at its own offset.  Opening, creating, reading, writing and
  closing all go through the ring;
* `readlink`, `symlink`, `fchmod` and `chmod` have no io_uring opcode: they are short blocking
  calls, made only for links and for modes the umask would strip;
* directories get their modes last, deepest first, so that a read-only one is filled first;
* a lane that finds no descriptor left (`EMFILE` under a low `ulimit -n`) starts its file
  again once fewer files are being copied: the number copied at once narrows to what the limit
  allows and widens by one with each file copied, so a limit that lets one file open at a time
  still copies everything, and the lanes never all fail and retry in step;
* `--copy-file-range` copies each regular file's bytes with `copy_file_range(2)` instead (as
  `cp` does), still opening and closing through the ring;
* a progress line (files, bytes, rate) is redrawn on stderr five times a second when stderr is
  a terminal (`--progress` and `--no-progress` override), and ends with a newline.

The queue is an `IO.Ref` shared by the threads: an `IO.Ref` reachable from a task is
multi-threaded, and its `modifyGet` takes the value out with an atomic exchange and puts the
new one back, other threads spinning meanwhile (`lean_st_ref_take` in the runtime's `io.cpp`),
so claiming the next index is atomic.

Build and run (the toolchain's `lean` and `leanc`):
    lean -c urcp.c urcp.lean && leanc -O3 -o urcp urcp.c
    ./urcp -r -j 2 tree copy
-/
import Init.IO.File
open IO System

def usage : String :=
  "usage: urcp [-r] [-j N] [--depth D] [--progress|--no-progress] [--copy-file-range] SRC... DST"

/-- Bytes per read and write: smaller files take one read and one write, larger ones are cut
into blocks of this size, several in flight. -/
def block : Nat := 256 * 1024

structure Config where
  recursive : Bool := false
  threads : Nat := 2
  depth : Nat := 64
  progress : Option Bool := none
  copyFileRange : Bool := false
  paths : List String := []

partial def parseArgs (cfg : Config) : List String → Option Config
  | [] => some { cfg with paths := cfg.paths.reverse }
  | "-r" :: rest => parseArgs { cfg with recursive := true } rest
  | "-R" :: rest => parseArgs { cfg with recursive := true } rest
  | "--progress" :: rest => parseArgs { cfg with progress := some true } rest
  | "--no-progress" :: rest => parseArgs { cfg with progress := some false } rest
  | "--copy-file-range" :: rest => parseArgs { cfg with copyFileRange := true } rest
  | "-j" :: n :: rest => match n.toNat? with
    | some k => if k > 0 then parseArgs { cfg with threads := k } rest else none
    | none => none
  | "--depth" :: n :: rest => match n.toNat? with
    | some k => if k > 0 then parseArgs { cfg with depth := k } rest else none
    | none => none
  | p :: rest => if p.startsWith "-" && p != "-" then none
    else parseArgs { cfg with paths := p :: cfg.paths } rest

/-- A file or link to copy: its `st_mode` (type and permission bits) and size from `lstat`. -/
structure Job where
  src : String
  dst : String
  size : Nat
  mode : UInt32
  deriving Inhabited

/-- The last component of its path, which orders the copies (`main`). -/
def Job.name (j : Job) : String := (j.src.splitOn "/").getLast!

def Job.isLink (j : Job) : Bool := j.mode &&& File.sIfmt == File.sIflnk

def Job.perm (j : Job) : UInt32 := j.mode &&& 0o7777

/-- How many files are being copied at once, on every thread together, and how many may be:
the lanes' number until descriptors run out (`copyJob`). -/
structure Admission where
  lanes : Nat
  limit : Nat := lanes
  copying : Nat := 0
  /-- Copies ended, for a lane that ran out of descriptors while none other was counted. -/
  ended : Nat := 0

/-- What the main thread and the copying threads share. -/
structure Shared where
  cfg : Config
  umask : UInt32
  /-- Whether the progress line is drawn (error lines then clear it first). -/
  progress : Bool
  failed : IO.Ref Bool
  /-- Counts for the progress line. -/
  files : IO.Ref Nat
  bytes : IO.Ref Nat
  admission : IO.Ref Admission

/-- Report a failure on its own line and remember it for the exit code. -/
def Shared.fail (sh : Shared) (msg : String) : IO Unit := do
  IO.eprintln s!"{if sh.progress then "\r\x1b[K" else ""}urcp: {msg}"
  sh.failed.set true

/-- Report `e`, met on `path`, as `<path>: <error>` on one line: the path the error names, if
it names one (`IO.Error`'s text puts it on a line of its own). -/
def Shared.failOn (sh : Shared) (path : String) (e : IO.Error) : IO Unit :=
  match (toString e).splitOn "\n  file: " with
  | [gist, file] => sh.fail s!"{file}: {gist}"
  | _ => sh.fail s!"{path}: {e}"

/-! ## The walk: what to copy, and the directories, made on the way -/

structure Walk where
  sh : Shared
  jobs : IO.Ref (Array Job)
  /-- Directories made whose permission bits are set at the end. -/
  dirs : IO.Ref (Array (String × UInt32))

def lstatOrError (path : String) : Fiber (Except IO.Error Ring.Stat) :=
  tryCatch (Except.ok <$> File.lstat path) fun e => pure (Except.error e)

/-- `lstat` of `paths[i:i+depth]`, in flight at once. -/
def lstatBatch (paths : Array String) (i depth : Nat) : Fiber (Array (Except IO.Error Ring.Stat)) := do
  let batch := paths.extract i (i + depth)
  let got ← IO.mkRef (mkArray batch.size (Except.error (IO.userError "") : Except IO.Error Ring.Stat))
  Switch.run fun sw => do
    for k in [0:batch.size] do
      Fiber.fork sw do
        let r ← lstatOrError (batch.get! k)
        got.modify (·.set! k r)
  got.get

/-- `lstat` of every path, `depth` in flight at a time. -/
partial def lstatAll (depth : Nat) (paths : Array String) (i : Nat := 0)
    (acc : Array (Except IO.Error Ring.Stat) := #[]) : Fiber (Array (Except IO.Error Ring.Stat)) := do
  if i ≥ paths.size then return acc
  lstatAll depth paths (i + depth) (acc ++ (← lstatBatch paths i depth))

/-- Make the directory `dst` for a copy of one with permission bits `perm`, writable by us
until the end; an existing directory is merged into, and keeps its mode, as with cp. -/
def makeDir (w : Walk) (dst : String) (perm : UInt32) : Fiber Unit := do
  let initial := perm ||| 0o700
  let made ← tryCatch (do File.mkdir dst initial; pure true) fun e => match e with
    | IO.Error.alreadyExists _ _ => do
      if (← File.statPath dst).type == IO.FS.FileType.dir then pure false else throw e
    | e => throw e
  -- mkdir applies the umask and drops setuid and setgid.
  if made && (initial &&& ~~~w.sh.umask != perm || perm &&& 0o7000 != 0) then
    w.dirs.modify (·.push (dst, perm))

mutual
  /-- Add `src`, whose `statx` is `st`, to be copied to `dst`. -/
  partial def Walk.add (w : Walk) (src dst : String) (st : Ring.Stat) : Fiber Unit := do
    let kind := st.mode &&& File.sIfmt
    if kind == File.sIfreg || kind == File.sIflnk then
      let size := st.metadata.byteSize.toNat
      w.jobs.modify (·.push { src := src, dst := dst, size := size, mode := st.mode })
    else if kind == File.sIfdir then
      if w.sh.cfg.recursive then w.dir src dst (st.mode &&& 0o7777)
      else w.sh.fail s!"-r not specified; omitting directory '{src}'"
    else w.sh.fail s!"{src}: not a regular file, directory or symbolic link; skipped"

  /-- Copy the directory `src` to `dst`: make it, then add its entries. -/
  partial def Walk.dir (w : Walk) (src dst : String) (perm : UInt32) : Fiber Unit := do
    let entries ← tryCatch (do makeDir w dst perm; File.readDir src) fun e => do
      w.sh.failOn src e
      pure #[]
    let stats ← lstatAll w.sh.cfg.depth (entries.map fun e => e.path.toString)
    for (e, st) in entries.zip stats do
      match st with
      | Except.ok st => w.add e.path.toString s!"{dst}/{e.fileName}" st
      | Except.error err => w.sh.failOn e.path.toString err
end

/-- `path` without its trailing slashes, so that `dir/` is named `dir`. -/
def trimSlashes (p : String) : String :=
  let t := p.dropRightWhile (· == '/')
  if t.isEmpty then p else t

/-- The real path of `p`, which need not exist if its parent does. -/
def realTarget (p : FilePath) : IO String := do
  if ← p.pathExists then return (← IO.FS.realPath p).toString
  let parent := match p.parent with
    | some d => if d.toString.isEmpty then "/" else d.toString
    | none => "."
  let parent ← IO.FS.realPath parent
  pure s!"{parent}/{p.fileName.getD ""}"

/-- The checks cp makes before copying one source: the reason to refuse it, if any. -/
def refusal (src : String) (target : String) (st : Ring.Stat) (dstStat : Option Ring.Stat)
    (intoDir : Bool) : IO (Option String) := do
  let isDir := st.mode &&& File.sIfmt == File.sIfdir
  if isDir then
    if let some d := dstStat then
      if !intoDir && d.mode &&& File.sIfmt != File.sIfdir then
        return some s!"cannot overwrite non-directory '{target}' with directory '{src}'"
    let s := (← IO.FS.realPath src).toString
    let t ← realTarget target
    if t == s || t.startsWith (s ++ "/") then
      return some s!"cannot copy a directory, '{src}', into itself, '{target}'"
  else if st.mode &&& File.sIfmt == File.sIfreg then
    if ← FilePath.pathExists target then
      if (← IO.FS.realPath src) == (← IO.FS.realPath target) then
        return some s!"'{src}' and '{target}' are the same file"
  pure none

def statOrNone (path : String) : Fiber (Option Ring.Stat) :=
  tryCatch (some <$> Fiber.statx Ring.atFdCwd path 0 File.statxBasicStats) fun _ => pure none

/-- Where a source goes: into `dst` under its own name, or to `dst` itself. -/
def targetOf (src dst : String) (intoDir : Bool) : String :=
  match intoDir, (FilePath.mk src).fileName with
  | true, some name => s!"{dst}/{name}"
  | _, _ => dst

/-- Add the source `src`, whose `statx` is `st`, unless cp would refuse it. -/
def Walk.checked (w : Walk) (src target : String) (st : Ring.Stat) (dstStat : Option Ring.Stat)
    (intoDir : Bool) : Fiber Unit := do
  match ← (refusal src target st dstStat intoDir : IO _) with
  | some why => w.sh.fail why
  | none => w.add src target st

/-- Add one source named on the command line. -/
def Walk.source (w : Walk) (src dst : String) (dstStat : Option Ring.Stat) (intoDir : Bool) :
    Fiber Unit := do
  let target := targetOf src dst intoDir
  try
    -- cp -r copies a link named on the command line as a link; cp without -r follows it.
    let st ← (if w.sh.cfg.recursive then File.lstat src
      else Fiber.statx Ring.atFdCwd src 0 File.statxBasicStats)
    w.checked src target st dstStat intoDir
  catch e => w.sh.failOn src e

/-- Walk every source: the files and links to copy, and the directories to give modes. -/
def plan (sh : Shared) (srcs : List String) (dst : String) :
    Fiber (Array Job × Array (String × UInt32)) := do
  let w : Walk := { sh := sh, jobs := ← IO.mkRef #[], dirs := ← IO.mkRef #[] }
  let dstStat ← statOrNone dst
  let intoDir := match dstStat with
    | some s => s.mode &&& File.sIfmt == File.sIfdir
    | none => false
  if !intoDir && srcs.length > 1 then
    sh.fail s!"target '{dst}' is not a directory"
    return (#[], #[])
  for src in srcs do w.source src dst dstStat intoDir
  pure (← w.jobs.get, ← w.dirs.get)

/-! ## The copy: lanes on every thread, taking files from one queue -/

/-- One thread's view: the shared state, the queue and its idle lanes. -/
structure Worker where
  sh : Shared
  jobs : Array Job
  next : IO.Ref Nat
  /-- Lanes of this thread with nothing to do, which a large file may borrow. -/
  idle : IO.Ref Nat

def Worker.counted (wk : Worker) (n : Nat) : Fiber Unit := wk.sh.bytes.modify (· + n)

/-- Copy from `off` on with one operation at a time, until a short read at or past `size` (the
size `statx` saw: a file that has grown since is copied to its new end). -/
partial def copySeq (wk : Worker) (src dst : File) (size : Nat) (buf : ByteArray) (off : Nat) :
    Fiber ByteArray := do
  let want := buf.capacity - buf.size
  let (n, buf) ← src.pread buf off.toUInt64
  if n == 0 then return buf
  let buf ← dst.pwrite buf off.toUInt64
  wk.counted n
  if n < want && off + n ≥ size then return buf
  copySeq wk src dst size (Ring.clear buf) (off + n)

/-- Fill `buf` to a whole block with reads from `off`, or up to the end of the file. -/
partial def fillBlock (src : File) (off : Nat) (buf : ByteArray) : Fiber ByteArray := do
  if buf.size == block then return buf
  let (n, buf) ← src.pread buf (off + buf.size).toUInt64
  if n == 0 then return buf
  fillBlock src off buf

/-- One lane of a large file's copy: take the next block, read it whole, write it at the same
offset, until the end.  The end is where a read falls short; the blocks claimed stop at `limit`,
the size `statx` saw, pushed on by a block read whole past it (a file that grew). -/
partial def copyBlocks (wk : Worker) (src dst : File) (limit : IO.Ref Nat) (next : IO.Ref Nat)
    (endAt : IO.Ref (Option Nat)) (buf : ByteArray) : Fiber Unit := do
  let off ← next.modifyGet fun off => (off, off + block)
  if (← endAt.get).isSome || off > (← limit.get) then return
  let buf ← fillBlock src off buf
  if buf.size < block then endAt.set (some (off + buf.size))
  else limit.modify (max (off + block))
  if buf.size > 0 then
    let buf ← dst.pwrite buf off.toUInt64
    wk.counted buf.size
  copyBlocks wk src dst limit next endAt (Ring.clear buf)

/-- A large file: this lane and the thread's idle ones (at most one per block) each copy blocks. -/
def copyLarge (wk : Worker) (src dst : File) (size : Nat) (buf : ByteArray) : Fiber Unit := do
  let extra ← wk.idle.modifyGet fun n => let k := min n (size / block); (k, n - k)
  let limit ← IO.mkRef size
  let next ← IO.mkRef 0
  let endAt ← IO.mkRef none
  try
    Switch.run fun sw => do
      for _ in [0:extra] do
        Fiber.fork sw (copyBlocks wk src dst limit next endAt (ByteArray.mkEmpty block))
      copyBlocks wk src dst limit next endAt buf
  finally wk.idle.modify (· + extra)

/-- `copy_file_range(2)` to the end, one block-sized call at a time (it blocks the thread). -/
partial def copyRange (wk : Worker) (src dst : File) (off : Nat) : Fiber Unit := do
  let n ← (IO.Net.Sys.copyFileRange src.fd.fd off.toUInt64 dst.fd.fd off.toUInt64
    (8 * block : Nat).toUInt64 : IO _)
  if n < 0 then throw (Ring.errorOf n dst.path)
  if n == 0 then return
  wk.counted n.toNat
  copyRange wk src dst (off + n.toNat)

/-- Open `path` as a regular file, bound to `sw`.  (`File.open` and `File.create` ask the
kernel what the fd is, two more syscalls per file, which the walk's `lstat` has answered.) -/
def openFile (sw : Switch) (path : String) (flags perm : UInt32) : Fiber File := do
  let fd ← Fiber.openAt Ring.atFdCwd path (flags ||| File.oCloexec) perm
  let f : File := ⟨← Fiber.Fd.mk' fd path, path, true, false, ← IO.mkRef 0⟩
  f.fd.closeOn sw
  pure f

/-- Create the copy with the permission bits `perm` (less the umask, fixed after the data).
An existing file is truncated and its mode fixed too. -/
def createDst (sw : Switch) (j : Job) : Fiber (File × Bool) :=
  let flags := File.oWronly ||| File.oCreat
  tryCatch (do pure (← openFile sw j.dst (flags ||| File.oExcl) j.perm, false)) fun e =>
    match e with
    | IO.Error.alreadyExists _ _ => do pure (← openFile sw j.dst (flags ||| File.oTrunc) j.perm, true)
    | e => throw e

/-- Copy a regular file; `buf` is the lane's buffer, which comes back for the next file. -/
def copyFile (wk : Worker) (j : Job) (buf : ByteArray) : Fiber ByteArray :=
  Switch.run fun sw => do
    let src ← openFile sw j.src File.oRdonly 0
    let (dst, existed) ← createDst sw j
    let buf ← (if wk.sh.cfg.copyFileRange then copyRange wk src dst 0 *> pure buf
      else if j.size < block then copySeq wk src dst j.size buf 0
      else copyLarge wk src dst j.size buf *> pure (ByteArray.mkEmpty block))
    -- Writing may clear setuid and setgid, and the umask may have stripped bits: set them last.
    if existed || j.perm &&& ~~~wk.sh.umask != j.perm || j.perm &&& 0o6000 != 0 then
      dst.setMode j.perm
    pure buf

def copyLink (j : Job) : Fiber Unit := do
  File.symlink (← File.readlink j.src) j.dst

/-- `EMFILE` or `ENFILE`: no descriptor left, for now. -/
def outOfFds : IO.Error → Bool
  | IO.Error.resourceExhausted _ code _ => code == 24 || code == 23
  | _ => false

/-- Wait until fewer files than the limit are being copied, then count one more; gives the
copies ended so far. -/
partial def admit (sh : Shared) : Fiber Nat := do
  let ended? ← sh.admission.modifyGet fun a =>
    if a.copying < a.limit then (some a.ended, { a with copying := a.copying + 1 }) else (none, a)
  match ended? with
  | some ended => pure ended
  | none => do Fiber.sleep 1; admit sh

/-- Count a copy out.  One that found no descriptor narrows the limit to the copies still
holding theirs (at least one); one that ended otherwise widens it by one.  Gives whether another
copy held descriptors during the try: one was counted, or one ended since `seen`. -/
def release (sh : Shared) (seen : Nat) (noFd : Bool) : Fiber Bool :=
  sh.admission.modifyGet fun a =>
    let n := a.copying - 1
    let limit := if noFd then max 1 (min a.limit n) else min a.lanes (a.limit + 1)
    (n > 0 || a.ended != seen, { a with copying := n, ended := a.ended + 1, limit := limit })

/-- Copy `j`; out of descriptors while other files held theirs, start it again once admitted.
Under a low limit on open files (`ulimit -n`) the files copied at once narrow to what fits,
as `cp` copies under any limit: lanes that all retried at once, each after a fixed pause, failed
together again (a livelock under the POSIX backend, whose operations run in step).  Only a file
that finds no descriptor when no other is held, or none in 2,000 tries, fails. -/
partial def copyJob (wk : Worker) (j : Job) (buf : ByteArray) (tries : Nat := 0) :
    Fiber ByteArray := do
  let seen ← admit wk.sh
  let r ← tryCatch (Except.ok <$> (if j.isLink then copyLink j *> pure buf else copyFile wk j buf))
    fun e => pure (Except.error e)
  let noFd := match r with
    | Except.error e => outOfFds e
    | Except.ok _ => false
  let others ← release wk.sh seen noFd
  match r with
  | Except.ok buf => pure buf
  | Except.error e =>
    if noFd && others && tries < 2000 then copyJob wk j (ByteArray.mkEmpty block) (tries + 1)
    else throw e

/-- One lane: copy the next file of the queue until it is empty, then lend itself as idle.
`buf` is its buffer, a block's worth, allocated once (an error loses it). -/
partial def lane (wk : Worker) (buf : ByteArray) : Fiber Unit := do
  let i ← wk.next.modifyGet fun i => (i, i + 1)
  if i ≥ wk.jobs.size then
    wk.idle.modify (· + 1)
    return
  let j := wk.jobs.get! i
  let buf := if buf.capacity ≥ block then buf else ByteArray.mkEmpty block
  let buf ← tryCatch (copyJob wk j buf)
    fun e => do
      wk.sh.failOn j.src e
      pure ByteArray.empty
  wk.sh.files.modify (· + 1)
  lane wk (Ring.clear buf)

/-- One thread: `depth` lanes. -/
def copyThread (sh : Shared) (jobs : Array Job) (next : IO.Ref Nat) : Fiber Unit := do
  let wk : Worker := { sh := sh, jobs := jobs, next := next, idle := ← IO.mkRef 0 }
  Switch.run fun sw => do
    for _ in [0:sh.cfg.depth] do
      Fiber.fork sw (lane wk ByteArray.empty)

/-! ## The progress line -/

/-- `n` tenths as `x.y`. -/
def tenths (n : Nat) : String := s!"{n / 10}.{n % 10}"

def mib (bytes : Nat) : String := tenths (bytes * 10 / 1048576)

def progressLine (sh : Shared) (totalFiles totalBytes start : Nat) : IO String := do
  let ms := max ((← IO.monoMsNow) - start) 1
  let b ← sh.bytes.get
  pure s!"\rurcp: {← sh.files.get}/{totalFiles} files, {mib b}/{mib totalBytes} MiB, {mib (b * 1000 / ms)} MiB/s\x1b[K"

partial def progressLoop (sh : Shared) (done : IO.Ref Bool) (totalFiles totalBytes start : Nat) :
    IO Unit := do
  IO.sleep 200
  if ← done.get then return
  IO.eprint (← progressLine sh totalFiles totalBytes start)
  progressLoop sh done totalFiles totalBytes start

/-- Run `act` with the progress line drawn meanwhile, and once more at the end. -/
def withProgress (sh : Shared) (jobs : Array Job) (act : IO Unit) : IO Unit := do
  if !sh.progress then return ← act
  let start ← IO.monoMsNow
  let totalBytes := jobs.foldl (fun n j => if j.isLink then n else n + j.size) 0
  let done ← IO.mkRef false
  let t ← IO.asTask (progressLoop sh done jobs.size totalBytes start) Task.Priority.dedicated
  try act finally
    done.set true
    discard <| IO.wait t
    IO.eprintln (← progressLine sh jobs.size totalBytes start)

def main (args : List String) : IO UInt32 := do
  let cfg ← match parseArgs {} args with
    | some cfg => if cfg.paths.length ≥ 2 then pure cfg else do IO.eprintln usage; return 1
    | none => do IO.eprintln usage; return 1
  let progress ← match cfg.progress with
    | some p => pure p
    | none => File.isTerminal 2
  let umask ← File.umask
  let failed ← IO.mkRef false
  let files ← IO.mkRef 0
  let bytes ← IO.mkRef 0
  let admission ← IO.mkRef { lanes := cfg.threads * cfg.depth : Admission }
  let sh : Shared := ⟨cfg, umask, progress, failed, files, bytes, admission⟩
  let paths := cfg.paths.map trimSlashes
  let (jobs, dirs) ← Fiber.run (plan sh (paths.take (paths.length - 1)) paths.getLast!)
  -- Largest first, so that the last files to start are small ones and the threads end together
  -- Ties are broken by file name, then path (`qsort` is quadratic on equal keys): files in flight
  -- together then lie in different directories, whose creates do not queue on one directory's
  -- lock (in a tree of 4 KiB files, a quarter of the time went spinning on it).
  let jobs := jobs.qsort fun a b => a.size > b.size || (a.size == b.size &&
    (a.name < b.name || (a.name == b.name && a.src < b.src)))
  let next ← IO.mkRef 0
  withProgress sh jobs <| Fiber.runInThreads (min cfg.threads (max jobs.size 1))
    fun _ => copyThread sh jobs next
  for (d, perm) in dirs.reverse do
    try IO.FS.Sys.chmod d perm catch e => sh.fail s!"{d}: {e}"
  return if ← sh.failed.get then 1 else 0
