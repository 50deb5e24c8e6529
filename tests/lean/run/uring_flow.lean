/- Flow.copy between every pair of endpoint kinds (file, pipe, socket, memory) at sizes from 0
to 256 MiB, with each fast path on and forced off, each result compared with `cmp`; the pipes
are blocking ones, as `IO.Process` and the shell give.  Then the errors, each naming its side,
and BufRead/BufWrite: lines split at every byte boundary, `take`, `peek`, and flushes. -/
import Init.IO.BufIO
open IO Net Flow

def say (s : String) : Fiber Unit := IO.println s

def fiberError (act : Fiber α) : Fiber String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

def dir := "flow_test"

/-- `n` bytes of a pattern, built by doubling so that 256 MiB is quick even interpreted. -/
def pattern (n : Nat) : ByteArray :=
  let seed := (List.range 4093).foldl (init := ByteArray.empty) fun b i => b.push ((i * 31 + 7) % 256 : Nat).toUInt8
  let rec grow (b : ByteArray) (fuel : Nat) : ByteArray :=
    match fuel with
    | 0 => b
    | fuel + 1 => if b.size ≥ n then b else grow (b ++ b) fuel
  (grow seed 32).extract 0 n

/-- A connected pair of loopback sockets on `sw`. -/
def socketPair (sw : Switch) (l : Listener) : Fiber (Socket × Socket) := do
  let p ← Fiber.forkPromise sw (accept sw l)
  let c ← connect sw l.addr
  pure (c, ← p.awaitExn)

inductive End where | file | pipe | socket | memory
  deriving BEq

def End.name : End → String
  | End.file => "file" | End.pipe => "pipe" | End.socket => "socket" | End.memory => "memory"

/-- Copy `size` bytes from a `src` endpoint to a `dst` endpoint; the count and whether `cmp`
finds the output equal to the input. -/
def copyCase (l : Listener) (src dst : End) (size : Nat) (opts : CopyOptions) (data : ByteArray)
    (ref : String) : Fiber (Nat × Bool) := do
  let out := s!"{dir}/out.bin"
  let inp := s!"{dir}/in.bin"
  let result ← IO.mkRef ByteArray.empty
  let n ← Switch.run fun sw => do
    -- The sink, with a fiber draining its far end into `result` where it has one.
    let (sink, finishSink) ← match dst with
      | End.file => do
        let f ← File.create sw out
        pure (ToSink.toSink f, f.close)
      | End.memory => do
        let b ← (Buffer.create : IO _)
        pure (ToSink.toSink b, do result.set (← b.get))
      | End.pipe => do
        let (r, w) ← Pipe.create sw
        let b ← (Buffer.create : IO _)
        let drained ← Fiber.forkPromise sw (do discard <| Flow.copy r b; r.close)
        pure (ToSink.toSink w, do w.close; drained.awaitExn; result.set (← b.get))
      | End.socket => do
        let (c, s) ← socketPair sw l
        let b ← (Buffer.create : IO _)
        let drained ← Fiber.forkPromise sw (do discard <| Flow.copy s b; s.close)
        pure (ToSink.toSink c, do c.shutdown 1; drained.awaitExn; c.close; result.set (← b.get))
    -- The source, fed from `data` by a fiber where it has a far end.
    let source ← match src with
      | End.file => do
        IO.FS.writeBinFile inp data
        pure (ToSource.toSource (← File.open sw inp))
      | End.memory => pure (ToSource.toSource (← (Bytes.ofByteArray data : IO _)))
      | End.pipe => do
        let (r, w) ← Pipe.create sw
        Fiber.fork sw (do discard <| Flow.copy (← (Bytes.ofByteArray data : IO _)) w; w.close)
        pure (ToSource.toSource r)
      | End.socket => do
        let (c, s) ← socketPair sw l
        Fiber.fork sw (do discard <| Flow.copy (← (Bytes.ofByteArray data : IO _)) s; s.close)
        pure (ToSource.toSource c)
    let n ← Flow.copy source sink opts
    finishSink
    pure n
  if dst != End.file then IO.FS.writeBinFile out (← result.get)
  let cmp ← IO.Process.output { cmd := "cmp", args := #["-s", ref, out] }
  pure (n, cmp.exitCode == 0)

def optionSets : List (String × CopyOptions) :=
  [("fast paths on", {}), ("copy_file_range off", { copyFileRange := false }),
   ("splice off", { splice := false }),
   ("all fast paths off, depth 1", { copyFileRange := false, splice := false, depth := 1, block := 4096 })]

def ends : List End := [End.file, End.pipe, End.socket, End.memory]

partial def lineTest : Fiber Unit := do
  -- Lines split at every byte boundary: a source that gives `chunk` bytes per read.
  let input := "first line\r\nsecond\n\nthe fourth, ünïcode\nno newline at the end"
  let bytes := input.toUTF8
  let mut allSame := true
  for chunk in [1:bytes.size + 1] do
    let pos ← IO.mkRef 0
    let src : Source := { name := s!"chunks of {chunk}", read := fun buf => do
      let p ← pos.get
      let n := min chunk (bytes.size - p)
      pos.set (p + n)
      pure (n, bytes.copySlice p buf buf.size n) }
    let r ← BufRead.create src (readSize := 3)
    let rec lines (acc : Array String) : Fiber (Array String) := do
      match ← r.line with
      | some l => lines (acc.push l)
      | none => pure acc
    let got ← lines #[]
    if got != #["first line", "second", "", "the fourth, ünïcode", "no newline at the end"] then
      allSame := false
      say s!"chunk {chunk}: {got}"
  say s!"lines split at every boundary: {allSame}"
  let r ← BufRead.create (← (Bytes.ofByteArray "HEAD 16\nbody of fourteenREST".toUTF8 : IO _))
  let header ← r.line
  let (buf, off) ← r.peek
  say s!"header {header}, peek sees {buf.size - off} bytes starting {repr (String.fromUTF8Unchecked (buf.extract off (off + 4)))}"
  let body ← r.take 16
  say s!"take 16: {repr (String.fromUTF8Unchecked body)}"
  say s!"takeAll: {repr (String.fromUTF8Unchecked (← r.takeAll))}"
  say s!"take past the end: {← fiberError (r.take 1)}"
  say s!"line at the end: {← r.line}"
  let bad ← BufRead.create (← (Bytes.ofByteArray (ByteArray.mk #[0x61, 0xC3, 0x28, 10]) : IO _))
  say s!"invalid UTF-8: {← fiberError bad.line}"
  let long ← BufRead.create (← (Bytes.ofByteArray (pattern 100) : IO _)) (readSize := 8) (maxSize := 16)
  say s!"a line longer than maxSize: {← fiberError long.line}"

def main : IO Unit := do
  IO.FS.createDirAll dir
  Fiber.run do
    Switch.run fun sw => do
      let l ← listen sw (← SockAddr.parse "127.0.0.1:0")
      for size in [0, 1, 4095, 4096, 1024 * 1024 + 7, 256 * 1024 * 1024] do
        let data := pattern size
        let ref := s!"{dir}/ref.bin"
        IO.FS.writeBinFile ref data
        let sets := if size > 2 * 1024 * 1024 then optionSets.take 1 else optionSets
        for (label, opts) in sets do
          let mut bad := #[]
          for src in ends do
            for dst in ends do
              let (n, same) ← copyCase l src dst size opts data ref
              if n != size || !same then bad := bad.push s!"{src.name}->{dst.name} ({n} bytes, equal {same})"
          say s!"{size} bytes, {label}: {if bad.isEmpty then "all 16 pairs equal" else toString bad}"
      -- Errors, each naming its side.
      IO.FS.writeBinFile s!"{dir}/small" (pattern 100)
      say s!"source is a directory: {← fiberError (do
        let d ← File.open sw dir
        Flow.copy d (← (Buffer.create : IO _)))}"
      say s!"sink opened read-only: {← fiberError (do
        let s ← File.open sw s!"{dir}/small"
        let d ← File.open sw s!"{dir}/small"
        Flow.copy (← (Bytes.ofByteArray (pattern 10) : IO _)) d)}"
      say s!"file to a read-only file, fast paths off: {← fiberError (do
        let s ← File.open sw s!"{dir}/small"
        let d ← File.open sw s!"{dir}/small"
        Flow.copy s d { copyFileRange := false })}"
      -- A peer that goes away mid-copy: the sink's error.
      let (c, s) ← socketPair sw l
      Fiber.fork sw do
        let (_, _) ← s.recv (ByteArray.mkEmpty 10)
        s.close
      IO.FS.writeBinFile s!"{dir}/big" (pattern (64 * 1024 * 1024))
      let r ← fiberError (do
        let f ← File.open sw s!"{dir}/big"
        Flow.copy f c)
      say s!"socket peer closed mid-copy: {if r.startsWith "resource vanished" && r.contains '(' then "resource vanished, writing the socket: " ++ toString (decide ((r.splitOn "writing socket").length > 1)) else r}"
      c.close
      -- Positions move on by the count: two copies in a row append.
      let src ← File.open sw s!"{dir}/small"
      let dst ← File.create sw s!"{dir}/twice"
      let n1 ← Flow.copy src dst
      src.seek 0
      let n2 ← Flow.copy src dst { copyFileRange := false }
      say s!"two copies: {n1} + {n2}, file {(← File.statPath s!"{dir}/twice").byteSize}, positions {← src.position} {← dst.position}"
      -- BufWrite: small writes batched, flushed at the end of the switch.
      let (c, s) ← socketPair sw l
      let got ← Fiber.forkPromise sw (do
        let b ← (Buffer.create : IO _)
        discard <| Flow.copy s b
        pure (← b.get).size)
      Switch.run fun wsw => do
        let w ← BufWrite.create wsw c (capacity := 1000)
        for i in [0:1000] do w.writeString s!"line {i}\n"
        w.write (pattern 5000)
      c.shutdown 1
      say s!"BufWrite: peer got {← got.awaitExn} bytes"
      c.close
      l.close
    lineTest
  IO.println "done"
