/- IO.Ring, the typed low-level ring API: every operation once, with its error results, and a
   cancelled recv that hands its buffer back.  Under posix, IO.Ring.current refuses. -/
import Init.IO.Ring
open IO.Ring

/-- Wait until `n` completions are in. -/
partial def collect (r : IO.Ring) (n : Nat) (acc : Array Cqe := #[]) : IO (Array Cqe) := do
  if acc.size ≥ n then return acc
  let cs ← r.wait
  if cs.isEmpty then throw (IO.userError "wait: nothing in flight")
  collect r n (acc ++ cs)

def pick (cs : Array Cqe) (ud : UInt64) : IO Cqe :=
  match cs.find? (·.userData == ud) with
  | some c => pure c
  | none => throw (IO.userError s!"no completion for {ud}")

def text (b : ByteArray) : String := String.fromUTF8Unchecked b

/-- `s`'s bytes in a buffer with room for `spare` more. -/
def withSpare (s : String) (spare : Nat) : ByteArray :=
  s.toUTF8.toList.foldl (·.push ·) (ByteArray.mkEmpty (s.utf8ByteSize + spare))

def held (c : Cqe) : String :=
  match c.held with
  | Held.none => "none"
  | Held.buffer b => s!"buffer {repr (text b)}"
  | Held.stat s => s!"stat size={s.metadata.byteSize} type={repr s.metadata.type} links={s.nlink} regular={s.mode &&& 0o170000 == 0o100000}"

def one (r : IO.Ring) (what : String) (submit : IO Unit) : IO Cqe := do
  submit
  let c ← pick (← collect r 1) 7
  -- fd numbers differ between `lean --run` and a compiled program
  let res := if what.startsWith "openAt" && c.res ≥ 3 then "an fd" else toString c.res
  IO.println s!"{what}: res={res} held={held c}"
  return c

def errorText (c : Cqe) (fname : String := "") : IO String := do
  try discard (c.check fname); pure "no error" catch e => pure (toString e)

def oWronly : UInt32 := 0o1
def oCreat : UInt32 := 0o100
def oTrunc : UInt32 := 0o1000
def oCloexec : UInt32 := 0o2000000

def main : IO Unit := do
  let r ← IO.Ring.current
  let nop ← one r "nop" (r.nop 7)
  IO.println s!"  userData={nop.userData} flags={nop.flags}"
  -- files
  let fd ← (← one r "openAt data.txt for writing"
    (r.openAt atFdCwd "data.txt" (oWronly ||| oCreat ||| oTrunc ||| oCloexec) 0o644 7)).check
  discard <| one r "write" (r.write fd "hello, ring\n".toUTF8 7)
  discard <| one r "writeAt 7" (r.writeAt fd "RING".toUTF8 7 7)
  discard <| one r "close" (r.close fd 7)
  let fd ← (← one r "openAt data.txt" (r.openAt atFdCwd "data.txt" oCloexec 0 7)).check
  discard <| one r "readAt 0 into capacity 5" (r.readAt fd (ByteArray.mkEmpty 5) 0 7)
  let c ← one r "read after \"ab\", capacity 64" (r.read fd (withSpare "ab" 62) 7)
  IO.println s!"  size={c.buffer.size}"
  discard <| one r "read at end of file" (r.read fd (ByteArray.mkEmpty 8) 7)
  discard <| one r "close" (r.close fd 7)
  discard <| one r "statx data.txt" (r.statx atFdCwd "data.txt" 0 0x7ff 7)
  let c ← one r "statx missing.txt" (r.statx atFdCwd "missing.txt" 0 0x7ff 7)
  IO.println s!"  {← errorText c "missing.txt"}"
  let c ← one r "openAt missing.txt" (r.openAt atFdCwd "missing.txt" oCloexec 0 7)
  IO.println s!"  {← errorText c "missing.txt"}"
  let c ← one r "read from fd 9999" (r.read (9999 : Int) (ByteArray.mkEmpty 8) 7)
  IO.println s!"  {← errorText c}"
  let c ← one r "write to fd -1" (r.write (-1 : Int) "x".toUTF8 7)
  IO.println s!"  {← errorText c}"
  discard <| one r "close fd 9999" (r.close (9999 : Int) 7)
  -- a timer
  let t0 ← IO.monoMsNow
  let c ← one r "timeout 30 ms" (r.timeout 30000000 7)
  IO.println s!"  after at least 30 ms: {decide ((← IO.monoMsNow) - t0 ≥ 30)}; {← errorText c}"
  -- sockets on 127.0.0.1
  let listener ← tcpListen 0
  let port ← localPort listener
  let client ← tcpSocket
  r.accept listener oCloexec 1
  r.connect client 0x7f000001 port 2
  let cs ← collect r 2
  let server ← (← pick cs 1).check
  IO.println s!"accept and connect: connect res={(← pick cs 2).res}, accepted an fd: {decide (server > 2)}"
  discard <| one r "send" (r.send client "ping".toUTF8 0 7)
  discard <| one r "recv" (r.recv server (ByteArray.mkEmpty 16) 0 7)
  -- a recv in flight, cancelled: it completes with -ECANCELED and its buffer comes back
  r.recv server (withSpare "kept" 16) 0 10
  IO.println s!"in flight: {← r.inflight}, ready: {(← r.poll).size}"
  r.cancel 10 11
  let cs ← collect r 2
  let c ← pick cs 10
  IO.println s!"cancelled recv: res={c.res} held={held c} capacity kept: {decide (c.buffer.size == 4)}"
  IO.println s!"  the cancel: res={(← pick cs 11).res}"
  IO.println s!"  {← errorText c}"
  discard <| one r "cancel of nothing" (r.cancel 10 7)
  discard <| one r "shutdown client" (r.shutdown client 1 7)
  discard <| one r "recv at end of stream" (r.recv server (ByteArray.mkEmpty 16) 0 7)
  discard <| one r "close server" (r.close server 7)
  discard <| one r "close client" (r.close client 7)
  -- a refused connect: a port that was just free
  let gone ← tcpListen 0
  let free ← localPort gone
  discard <| one r "close listener" (r.close gone 7)
  let s ← tcpSocket
  let c ← one r "connect to a closed port" (r.connect s 0x7f000001 free 7)
  IO.println s!"  {← errorText c}"
  discard <| one r "close" (r.close s 7)
  discard <| one r "close listener" (r.close listener 7)
  -- splice between two pipes
  let (a, b) ← pipe
  let (c', d) ← pipe
  discard <| one r "write into pipe 1" (r.write b "spliced".toUTF8 7)
  discard <| one r "splice pipe 1 -> pipe 2" (r.splice a noOffset d noOffset 64 0 7)
  discard <| one r "read pipe 2" (r.read c' (ByteArray.mkEmpty 64) 7)
  for fd in [a, b, c', d] do
    r.close fd 7
  discard <| collect r 4
  IO.println s!"nothing in flight: wait={(← r.wait).size} poll={(← r.poll).size} inflight={← r.inflight}"
