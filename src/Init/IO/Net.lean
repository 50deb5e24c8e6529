/-
TCP on fibers (lean-uring): typed IPv4 and IPv6 addresses, listeners and connected sockets
bound to switches, and a blocking form of the same API (`Net.Blocking`) for code outside
fibers.

```
Switch.run fun sw => do
  let l ← Net.listen sw (← Net.SockAddr.parse "127.0.0.1:0")
  Net.acceptFork sw l (onError := fun _ => pure ()) fun conn _peer => do
    let (n, buf) ← conn.recv (ByteArray.mkEmpty 4096)
    conn.sendAll buf
```

* A socket is an `Fiber.Fd`: `close` cancels its operations in flight, waits for their
  completions and only then closes, so the fd number cannot be reused under them.
* `sendAll` resubmits short sends until every byte is out; `send` is one `send(2)`.
* Sends never raise `SIGPIPE` (`MSG_NOSIGNAL`): a reset peer is an `IO.Error`
  (`resourceVanished`).
* The sockets are created close-on-exec, blocking in the kernel's sense: the ring polls them
  itself, and the blocking API uses them as they are.
-/
prelude
import Init.IO.Fd
import Init.IO.NetPrim

namespace IO
namespace Net

/-- An IP address: four octets, or eight 16-bit groups. -/
inductive IpAddr where
  | v4 (a b c d : UInt8)
  | v6 (groups : Array UInt16)
  deriving BEq, Inhabited

namespace IpAddr

/-- `127.0.0.1`. -/
def loopback4 : IpAddr := v4 127 0 0 1
/-- `::1`. -/
def loopback6 : IpAddr := v6 #[0, 0, 0, 0, 0, 0, 0, 1]
/-- `0.0.0.0`: every IPv4 interface. -/
def any4 : IpAddr := v4 0 0 0 0
/-- `::`: every interface. -/
def any6 : IpAddr := v6 #[0, 0, 0, 0, 0, 0, 0, 0]

/-- The address family as the runtime numbers it: 4 or 6. -/
def family : IpAddr → UInt8
  | v4 .. => 4
  | v6 _ => 6

/-- The address in network byte order (4 or 16 bytes). -/
def toBytes : IpAddr → ByteArray
  | v4 a b c d => ByteArray.mk #[a, b, c, d]
  | v6 gs => gs.foldl (init := ByteArray.mkEmpty 16) fun acc g =>
      (acc.push (g >>> (8 : UInt16)).toUInt8).push g.toUInt8

/-- The address from network-order bytes and a family. -/
def ofBytes (family : UInt8) (b : ByteArray) : Option IpAddr :=
  if family == 4 && b.size == 4 then some (v4 (b.get! 0) (b.get! 1) (b.get! 2) (b.get! 3))
  else if family == 6 && b.size == 16 then
    some (v6 ((List.range 8).toArray.map fun i =>
      (b.get! (2 * i)).toUInt16 <<< 8 ||| (b.get! (2 * i + 1)).toUInt16))
  else none

private def hexDigit (n : Nat) : Char :=
  if n < 10 then Char.ofNat (48 + n) else Char.ofNat (87 + n)

private def hex (g : UInt16) : String :=
  let n := g.toNat
  let digits := [n / 4096 % 16, n / 256 % 16, n / 16 % 16, n % 16]
  let digits := digits.dropWhile (· == 0)
  if digits.isEmpty then "0" else String.mk (digits.map hexDigit)

/-- The longest run (of two or more) of zero groups, as `(start, length)`, for `::`. -/
private def zeroRun (gs : Array UInt16) : Nat × Nat := Id.run do
  let mut best := (0, 0)
  let mut start := 0
  let mut len := 0
  for i in [0:gs.size] do
    if gs.get! i == 0 then
      if len == 0 then start := i
      len := len + 1
      if len > best.2 then best := (start, len)
    else len := 0
  if best.2 < 2 then (0, 0) else best

/-- RFC 5952 text: dotted quad, or lower-case groups with the longest zero run as `::`. -/
protected def toString : IpAddr → String
  | v4 a b c d => s!"{a}.{b}.{c}.{d}"
  | v6 gs =>
    let (s, l) := zeroRun gs
    let part (xs : List UInt16) := ":".intercalate (xs.map hex)
    if l == 0 then part gs.toList
    else part (gs.toList.take s) ++ "::" ++ part (gs.toList.drop (s + l))

instance : ToString IpAddr := ⟨IpAddr.toString⟩

/-- `f` on every element, or `none` if it fails on one. -/
private def mapOpt (f : α → Option β) : List α → Option (List β)
  | [] => some []
  | a :: as => match f a, mapOpt f as with
    | some b, some bs => some (b :: bs)
    | _, _ => none

private def parseDec (s : String) : Option Nat :=
  if s.isEmpty || s.length > 3 || !s.all Char.isDigit then none else some s.toNat!

private def parse4 (s : String) : Option IpAddr :=
  match s.splitOn "." with
  | [a, b, c, d] => do
    match mapOpt parseDec [a, b, c, d] with
    | some [a, b, c, d] =>
      if a < 256 && b < 256 && c < 256 && d < 256 then
        some (v4 a.toUInt8 b.toUInt8 c.toUInt8 d.toUInt8)
      else none
    | _ => none
  | _ => none

private def hexVal (c : Char) : Option Nat :=
  if c.isDigit then some (c.toNat - 48)
  else if 'a' ≤ c && c ≤ 'f' then some (c.toNat - 87)
  else if 'A' ≤ c && c ≤ 'F' then some (c.toNat - 55)
  else none

private def parseGroup (s : String) : Option UInt16 :=
  if s.isEmpty || s.length > 4 then none else
  s.foldl (init := some (0 : UInt16)) fun acc c => match acc, hexVal c with
    | some v, some d => some (v * 16 + d.toUInt16)
    | _, _ => none

/-- Groups of one side of `::`; a dotted quad may end the address (`::ffff:1.2.3.4`). -/
private def parseGroups (s : String) (last : Bool) : Option (List UInt16) :=
  if s.isEmpty then some [] else
  let parts := s.splitOn ":"
  match parts.reverse with
  | p :: init =>
    if last && p.contains '.' then
      match parse4 p, mapOpt parseGroup init.reverse with
      | some (v4 a b c d), some gs =>
        some (gs ++ [a.toUInt16 <<< (8 : UInt16) ||| b.toUInt16, c.toUInt16 <<< (8 : UInt16) ||| d.toUInt16])
      | _, _ => none
    else mapOpt parseGroup parts
  | [] => none

private def parse6 (s : String) : Option IpAddr :=
  match s.splitOn "::" with
  | [whole] => match parseGroups whole true with
    | some gs => if gs.length == 8 then some (v6 gs.toArray) else none
    | none => none
  | [l, r] => match parseGroups l false, parseGroups r true with
    | some a, some b =>
      if a.length + b.length ≤ 7 then
        some (v6 (List.toArray (a ++ List.replicate (8 - a.length - b.length) (0 : UInt16) ++ b)))
      else none
    | _, _ => none
  | _ => none

/-- Parse a dotted quad or an IPv6 address (RFC 4291 text, `::` and a final dotted quad). -/
def parse? (s : String) : Option IpAddr :=
  if s.contains ':' then parse6 s else parse4 s

end IpAddr

/-- A socket address: an IP address and a port. -/
structure SockAddr where
  ip : IpAddr
  port : UInt16
  deriving BEq, Inhabited

namespace SockAddr

/-- `host:port`, with an IPv6 host in brackets: `[::1]:80`. -/
protected def toString (a : SockAddr) : String :=
  match a.ip with
  | IpAddr.v4 .. => s!"{a.ip}:{a.port}"
  | IpAddr.v6 _ => s!"[{a.ip}]:{a.port}"

instance : ToString SockAddr := ⟨SockAddr.toString⟩

private def parsePort (s : String) : Option UInt16 :=
  if s.isEmpty || s.length > 5 || !s.all Char.isDigit then none
  else if s.toNat! < 65536 then some s.toNat!.toUInt16 else none

/-- Parse `host:port` or `[v6]:port`, the host an IP literal or `localhost` (which is
`127.0.0.1`: nothing here consults a resolver). -/
def parse? (s : String) : Option SockAddr :=
  if s.startsWith "[" then
    match (s.drop 1).splitOn "]:" with
    | [h, p] => match IpAddr.parse? h, parsePort p with
      | some (IpAddr.v6 gs), some port => some { ip := IpAddr.v6 gs, port := port }
      | _, _ => none
    | _ => none
  else
    match s.splitOn ":" with
    | [h, p] =>
      let ip := if h == "localhost" then some IpAddr.loopback4 else IpAddr.parse? h
      match ip, parsePort p with
      | some ip, some port => some { ip := ip, port := port }
      | _, _ => none
    | _ => none

/-- `parse?`, with an `IO.Error` naming the text when it is not an address. -/
def parse (s : String) : IO SockAddr :=
  match parse? s with
  | some a => pure a
  | none => throw (IO.Error.invalidArgument none 22
      s!"not a socket address (host:port or [v6]:port): {repr s}")

/-- The address a `Sys.localAddr`/`peerAddr` triple stands for. -/
def ofSys (t : UInt8 × ByteArray × UInt16) : IO SockAddr :=
  match IpAddr.ofBytes t.1 t.2.1 with
  | some ip => pure { ip := ip, port := t.2.2 }
  | none => throw (IO.userError s!"Net: unknown address family {t.1}")

end SockAddr

/-- Socket option levels and names (`setsockopt(2)`). -/
def solSocket : UInt32 := 1
def soReuseAddr : UInt32 := 2
def soReusePort : UInt32 := 15
def ipprotoTcp : UInt32 := 6
def tcpNoDelay : UInt32 := 1

/-- A connected TCP socket. -/
structure Socket where
  fd : Fiber.Fd
  /-- The address of the other end. -/
  peer : SockAddr

/-- A listening TCP socket. -/
structure Listener where
  fd : Fiber.Fd
  /-- The address it listens on, its port chosen by the kernel when `0` was asked. -/
  addr : SockAddr

/-- A new socket for `addr`'s family, with its fd closed again if `setup` fails. -/
private def withSocket (addr : SockAddr) (setup : Int → IO α) : IO α := do
  let fd ← Sys.socket addr.ip.family
  try setup fd catch e => do
    try Sys.close fd catch _ => pure ()
    throw e

/-- A listening socket on `addr` (`SO_REUSEADDR` unless `reuseAddr := false`, `SO_REUSEPORT`
when `reusePort`), not bound to any switch. -/
def listenFd (addr : SockAddr) (backlog : Nat := 1024) (reuseAddr := true) (reusePort := false) :
    IO (Int × SockAddr) :=
  withSocket addr fun fd => do
    if reuseAddr then Sys.setOption fd solSocket soReuseAddr 1
    if reusePort then Sys.setOption fd solSocket soReusePort 1
    Sys.bind fd addr.ip.family addr.ip.toBytes addr.port
    Sys.listen fd backlog.toUInt32
    pure (fd, ← SockAddr.ofSys (← Sys.localAddr fd))

open Fiber

/-- Listen on `addr` (port `0`: any free port, see `Listener.addr`), closed by `sw`. -/
def listen (sw : Switch) (addr : SockAddr) (backlog : Nat := 1024) (reuseAddr := true)
    (reusePort := false) : Fiber Listener := do
  let (fd, bound) ← (listenFd addr backlog reuseAddr reusePort : IO _)
  discard <| registerFile fd
  let l : Listener := { fd := ← Fd.mk' fd s!"listener {bound}", addr := bound }
  l.fd.closeOn sw
  pure l

/-- Wrap a connected fd as a `Socket` closed by `sw`.  The fd is registered with the ring
(`Fiber.registerFile`) for its many sends and receives, which is why a socket must be closed
on its scheduler's thread, as `sw` does. -/
def Socket.ofFd (sw : Switch) (fd : Int) (peer : SockAddr) : Fiber Socket := do
  discard <| registerFile fd
  let s : Socket := { fd := ← Fd.mk' fd s!"socket {peer}", peer := peer }
  s.fd.closeOn sw
  pure s

/-- Accept one connection on `l`: its fd and its peer, bound to nothing yet. -/
private def acceptFd (l : Listener) : Fiber (Int × SockAddr) := do
  let fd ← l.fd.use (Fiber.accept l.fd.fd 0o2000000)
  let peer ← tryCatch (SockAddr.ofSys (← Sys.peerAddr fd) : IO _) fun e => do
    try Sys.close fd catch _ => pure ()
    throw e
  pure (fd, peer)

/-- Accept one connection on `l`, bound to `sw`. -/
def accept (sw : Switch) (l : Listener) : Fiber Socket := do
  let (fd, peer) ← acceptFd l
  Socket.ofFd sw fd peer

/-- Serve the accepted `fd` in a fiber of `sw`'s: `handler conn peer` in a switch of the
connection's, its error to `onError` (see `acceptFork`). -/
private def forkConn (sw : Switch) (fd : Int) (onError : IO.Error → Fiber Unit)
    (handler : Socket → SockAddr → Fiber Unit) : Fiber Unit :=
  fork sw do
    try
      let peer ← tryCatch (SockAddr.ofSys (← Sys.peerAddr fd) : IO _) fun e => do
        try Sys.close fd catch _ => pure ()
        throw e
      Switch.run fun csw => do
        handler (← Socket.ofFd csw fd peer) peer
    catch e => if e.isCancelled then throw e else onError e

/-- What one accept submission came to. -/
private inductive Accepted where
  | conn (fd : Int)
  | failed
  | closed
  | noMultishot

/-- The error of an accept, as `acceptFork` handles it. -/
private def acceptFailed (l : Listener) (onError : IO.Error → Fiber Unit) (e : IO.Error) :
    Fiber Accepted := do
  if ← l.fd.isClosed then return Accepted.closed
  if e.isCancelled then throw e
  onError e
  pure Accepted.failed

/-- One multishot accept on `l`, each connection served as it comes, until its final
completion: a last connection, an error, or `EINVAL` before any connection from a kernel
without multishot accept (before 5.19). -/
private def acceptMany (sw : Switch) (l : Listener) (onError : IO.Error → Fiber Unit)
    (handler : Socket → SockAddr → Fiber Unit) : Fiber Accepted := do
  let seen ← IO.mkRef false
  tryCatch (do
    let c ← l.fd.use <| submitMany (fun r u => r.acceptMultishot l.fd.fd 0o2000000 u) fun c => do
      seen.set true
      forkConn sw (← checkFd c) onError handler
    if c.res == -22 && !(← seen.get) then return Accepted.noMultishot
    pure (Accepted.conn (← checkFd c)))
    (acceptFailed l onError)

/-- One single-shot accept on `l`. -/
private def acceptOne (l : Listener) (onError : IO.Error → Fiber Unit) : Fiber Accepted :=
  tryCatch (Accepted.conn <$> l.fd.use (Fiber.accept l.fd.fd 0o2000000)) (acceptFailed l onError)

/-- Accept connections on `l` until it is closed or `sw` is cancelled, serving each in a fiber
of its own: `handler conn peer` runs in a switch of the connection's, which closes it at the
end.  A handler's error goes to `onError` instead of failing `sw`.  An error of `accept`
itself (`EMFILE`, say) also goes to `onError`, and accepting goes on; closing `l` ends the
loop.  One multishot accept brings every connection (`IORING_ACCEPT_MULTISHOT`, emulated
under posix), armed again when it ends; a kernel without it gets one accept per connection. -/
partial def acceptFork (sw : Switch) (l : Listener) (onError : IO.Error → Fiber Unit)
    (handler : Socket → SockAddr → Fiber Unit) (multishot := true) : Fiber Unit := do
  let next ← if multishot then acceptMany sw l onError handler else acceptOne l onError
  match next with
  | Accepted.closed => pure ()
  | Accepted.noMultishot => acceptFork sw l onError handler false
  | Accepted.failed => acceptFork sw l onError handler multishot
  | Accepted.conn fd =>
    forkConn sw fd onError handler
    acceptFork sw l onError handler multishot

/-- Connect to `addr`, bound to `sw`. -/
def connect (sw : Switch) (addr : SockAddr) : Fiber Socket := do
  let fd ← (Sys.socket addr.ip.family : IO _)
  let s ← Socket.ofFd sw fd addr
  s.fd.use do discard <| check (← submit fun r u => r.connectTo fd addr.ip.family addr.ip.toBytes addr.port u)
  pure s

namespace Socket

/-- Receive into `buffer`'s spare capacity: `(n, buffer)`, `n = 0` once the peer has shut down
its side. -/
def recv (s : Socket) (buffer : ByteArray) : Fiber (Nat × ByteArray) :=
  s.fd.use (Fiber.recv s.fd.fd buffer)

/-- One `send(2)` of `buffer`: `(n, buffer)`, `n` possibly short. -/
def send (s : Socket) (buffer : ByteArray) : Fiber (Nat × ByteArray) :=
  s.fd.use (Fiber.send s.fd.fd buffer 0x4000)

/-- Send every byte of `buffer`, resubmitting the rest after a short send; the buffer comes
back. -/
def sendAll (s : Socket) (buffer : ByteArray) : Fiber ByteArray :=
  writeAll (fun b _ => s.send b) buffer

/-- Shut down the reading side (`0`), the writing side (`1`) or both (`2`). -/
def shutdown (s : Socket) (how : UInt32) : Fiber Unit :=
  s.fd.use (Fiber.shutdown s.fd.fd how)

/-- Close now (`Fd.close`: after the operations in flight, which it cancels). -/
def close (s : Socket) : Fiber Unit := s.fd.close

/-- Set `TCP_NODELAY`: send small writes at once instead of coalescing them. -/
def setNoDelay (s : Socket) (on : Bool := true) : IO Unit :=
  Sys.setOption s.fd.fd ipprotoTcp tcpNoDelay (if on then 1 else 0)

/-- Whether `TCP_NODELAY` is set. -/
def noDelay (s : Socket) : IO Bool := do
  pure ((← Sys.getOption s.fd.fd ipprotoTcp tcpNoDelay) != 0)

/-- The local address of the connection. -/
def localAddr (s : Socket) : IO SockAddr := do SockAddr.ofSys (← Sys.localAddr s.fd.fd)

end Socket

/-! Receiving through one multishot recv -/

/-- What a `Receiver` holds: the chunks received and not yet taken (from `head` on), and where
its multishot recv stands. -/
structure Receiver.State where
  chunks : Array ByteArray := #[]
  head : Nat := 0
  /-- Bytes in the chunks not yet taken. -/
  queued : Nat := 0
  /-- A multishot recv is in flight. -/
  armed : Bool := false
  /-- It was cancelled because `queued` reached the limit: no more until the reader catches up. -/
  paused : Bool := false
  /-- The end of the stream (`ok`) or its error, once the chunks before it are taken. -/
  ended : Option (Except IO.Error Unit) := none
  /-- The kernel cannot (no buffer rings, no multishot recv): one plain `recv` per chunk. -/
  plain : Bool := false
  /-- The tag of the reader parked waiting for a chunk or the end (`Sched.park`). -/
  reader : Option UInt64 := none
  /-- How many times the recv was armed: once, plus once after each time the buffers ran out
  or the limit paused it. -/
  arms : Nat := 0

/-- A socket's incoming bytes, received by one multishot recv that stays armed across reads
(`Ring.recvMultishot`: a completion per chunk, no submission per read), in the chunks the
kernel delivered them in.  What it holds is bounded: once `limit` bytes wait unread, the recv
is cancelled, so that TCP's flow control stops the peer, and it is armed again when the reader
has taken half of them (the cancel takes effect at the scheduler's next wait, which may still
bring the chunks the kernel received meanwhile: at most the thread's group, 4 MiB).  The recv belongs to the context the receiver was made in, not to a
reader: a reader that is cancelled (a lost `Fiber.first`, say) leaves the bytes for the next.
Where the kernel has no multishot recv, each read is one plain `recv`, with the same bytes.
One fiber reads a receiver at a time, and nothing else receives from its socket. -/
structure Receiver where
  sock : Socket
  limit : Nat
  cancel : Fiber.Cancel
  state : IO.Ref Receiver.State

/-- The size of the buffer a plain `recv` gets: a multishot recv's chunks are at most this. -/
def Receiver.chunkSize : Nat := 16384

/-- A receiver of `s`'s bytes, its recv ended when this fiber's context is cancelled or `s` is
closed; nothing is armed before the first read.  `multishot := false`: plain `recv`s. -/
def Socket.receiver (s : Socket) (limit : Nat := 262144) (multishot := true) : Fiber Receiver :=
  fun ctx k => do
    let st ← IO.mkRef { plain := !multishot }
    k (Except.ok { sock := s, limit := limit, cancel := ctx.cancel, state := st })

namespace Receiver

/- The state is updated through `modify`/`modifyGet` only, which take it out of its reference
first: updated in place, never copied (a `get` then `set` would copy it on every chunk). -/

/-- Wake the reader parked in `recv`, if one is. -/
private def wake (rx : Receiver) (ctx : Fiber.Ctx) : IO Unit := do
  if let some tag ← rx.state.modifyGet fun st => (st.reader, { st with reader := none }) then
    if let some w ← ctx.sched.unpark tag then
      ctx.sched.note fun _ => s!"signal {Fiber.Sched.slotOf tag}"
      ctx.sched.enqueue (w.resume Fiber.ready)

/-- Queue a chunk.  At the limit, the recv in flight (`tag`, if it is still in flight) is
cancelled. -/
private def push (rx : Receiver) (ctx : Fiber.Ctx) (chunk : ByteArray) (tag : UInt64) :
    IO Unit := do
  let pause ← rx.state.modifyGet fun st =>
    let queued := st.queued + chunk.size
    let pause := queued ≥ rx.limit && !st.paused
    (pause, { st with chunks := st.chunks.push chunk, queued := queued, paused := st.paused || pause })
  if pause && tag != 0 then ctx.sched.cancelTag tag

private def setIdle (rx : Receiver) (plain := false) : IO Unit :=
  rx.state.modify fun st => { st with armed := false, paused := false, plain := st.plain || plain }

private def finish (rx : Receiver) (r : Except IO.Error Unit) : IO Unit :=
  rx.state.modify fun st => { st with armed := false, ended := some r }

/-- The multishot recv's end: a last chunk, the end of the stream, an error, or the cancel of
a pause; `rearm` when it only ran out of buffers (or of room in the completion queue). -/
private def ended (rx : Receiver) (ctx : Fiber.Ctx) (rearm : IO Unit) :
    Except IO.Error Ring.Cqe → IO Unit
  | Except.error e => do
    if e.isCancelled || (← rx.sock.fd.isClosed) then rx.finish (Except.error e)
    else rx.setIdle (plain := true)   -- refused to arm: no buffer rings here
  | Except.ok c => do
    let (res, chunk) := c.take
    if res > 0 then rx.push ctx chunk 0
    let st ← rx.state.get
    if res > 0 || res == -105 then
      if st.paused then rx.setIdle else rearm
    else if res == -125 then
      if ← rx.sock.fd.isClosed then rx.finish (Except.error rx.sock.fd.closedError)
      else match ← rx.cancel.cancelled? with
        | some e => rx.finish (Except.error (Fiber.Sched.cancelledBy e))
        | none => rx.setIdle
    else if res == -22 && st.chunks.isEmpty then rx.setIdle (plain := true)
    else if res == 0 then rx.finish (Except.ok ())
    else rx.finish (Except.error (Ring.errorOf res rx.sock.fd.name))

/-- Arm the multishot recv in the receiver's context: it runs on by itself, each chunk queued
as it comes, the reader woken by every chunk and by the end. -/
private partial def arm (rx : Receiver) (ctx : Fiber.Ctx) : IO Unit := do
  let ctx := { ctx with cancel := rx.cancel }
  rx.state.modify fun st => { st with armed := true, arms := st.arms + 1 }
  let fd := rx.sock.fd
  let more (c : Ring.Cqe) : Fiber Unit := fun ctx k => do
    let (res, chunk) := c.take
    if res > 0 then rx.push ctx chunk c.userData
    rx.wake ctx
    k (Except.ok ())
  fd.use (submitMany (fun r u => r.recvMultishot fd.fd 0 u) more) ctx fun r => do
    rx.ended ctx (rx.arm ctx) r
    rx.wake ctx

/-- Take the next chunk, if one is queued, and whether the recv should be armed again (it is
idle, and half the limit is free). -/
private def take? (rx : Receiver) : IO (Option ByteArray × Bool) :=
  rx.state.modifyGet fun st =>
    if h : st.head < st.chunks.size then
      let chunk := st.chunks.get ⟨st.head, h⟩
      let rest := st.chunks.set ⟨st.head, h⟩ ByteArray.empty
      let (chunks, head) :=
        if st.head + 1 == rest.size then (#[], 0)
        else if st.head ≥ 64 && 2 * st.head ≥ rest.size then (rest.extract (st.head + 1) rest.size, 0)
        else (rest, st.head + 1)
      let queued := st.queued - chunk.size
      let rearm := !st.armed && !st.plain && st.ended.isNone && 2 * queued < rx.limit
      ((some chunk, rearm), { st with chunks := chunks, head := head, queued := queued })
    else ((none, false), st)

/-- The next bytes received, as one chunk: empty once the peer has shut down its side.  An
error of the connection is raised after the bytes that came before it. -/
partial def recv (rx : Receiver) : Fiber ByteArray := fun ctx k => do
  let (chunk?, rearm) ← rx.take?
  if let some chunk := chunk? then
    if rearm then rx.arm ctx
    k (Except.ok chunk)
    return
  let (ended, plain, armed) ← rx.state.modifyGet fun st => ((st.ended, st.plain, st.armed), st)
  match ended with
  | some (Except.ok ()) => k (Except.ok ByteArray.empty)
  | some (Except.error e) => k (Except.error e)
  | none =>
    if plain then
      (do let (_, b) ← rx.sock.recv (ByteArray.mkEmpty chunkSize); pure b : Fiber _) ctx k
    else if !armed then
      rx.arm ctx
      rx.recv ctx k   -- look again: a refused arm has switched to plain recvs
    else if let some e ← ctx.cancel.cancelled? then
      k (Except.error (Fiber.Sched.cancelledBy e))
    else
      let tag ← ctx.sched.park { cancel := ctx.cancel, onRing := false, resume := fun r =>
        match r with
        | Except.ok _ => rx.recv ctx k
        | Except.error e => k (Except.error e) } (← ctx.sched.freshId)
      rx.state.modify fun st => { st with reader := some tag }

end Receiver

/-- Stop listening (`Fd.close`: a fiber parked in `accept` gets `closedError`). -/
def Listener.close (l : Listener) : Fiber Unit := l.fd.close

/-! The same sockets used with blocking system calls, outside any scheduler: each call blocks
its thread.  Sockets from here are not bound to a switch; close them with `close`. -/
namespace Blocking

/-- Listen on `addr`, as `Net.listen`. -/
def listen (addr : SockAddr) (backlog : Nat := 1024) (reuseAddr := true) (reusePort := false) :
    IO Listener := do
  let (fd, bound) ← listenFd addr backlog reuseAddr reusePort
  pure { fd := ← Fd.mk' fd s!"listener {bound}", addr := bound }

/-- Accept one connection. -/
def accept (l : Listener) : IO Socket := do
  let fd ← Sys.accept l.fd.fd
  let peer ← tryCatch (do SockAddr.ofSys (← Sys.peerAddr fd)) fun e => do
    try Sys.close fd catch _ => pure ()
    throw e
  pure { fd := ← Fd.mk' fd s!"socket {peer}", peer := peer }

/-- Connect to `addr`. -/
def connect (addr : SockAddr) : IO Socket :=
  withSocket addr fun fd => do
    Sys.connect fd addr.ip.family addr.ip.toBytes addr.port
    pure { fd := ← Fd.mk' fd s!"socket {addr}", peer := addr }

/-- Receive into `buffer`'s spare capacity: the buffer, longer by the bytes received (none at
the peer's shutdown). -/
def recv (s : Socket) (buffer : ByteArray) : IO ByteArray := Sys.recv s.fd.fd buffer

/-- Send every byte of `buffer`. -/
partial def sendAll (s : Socket) (buffer : ByteArray) (offset : Nat := 0) : IO Unit := do
  if offset < buffer.size then
    let n ← Sys.send s.fd.fd buffer offset
    sendAll s buffer (offset + n)

/-- Shut down a side, as `Socket.shutdown`. -/
def shutdown (s : Socket) (how : UInt32) : IO Unit := Sys.shutdown s.fd.fd how

/-- Close the socket. -/
def close (s : Socket) : IO Unit := s.fd.closeBlocking

/-- Stop listening. -/
def closeListener (l : Listener) : IO Unit := l.fd.closeBlocking

end Blocking

end Net
end IO
