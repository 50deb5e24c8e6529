/-
echo: a TCP echo server in Lean on fibers (`Init.IO.Net`), with the naive blocking server beside
it as the baseline.

    echo [--threads N] [--blocking] [--plain-recv] [--max-conns M] [--host H] PORT

Fiber mode (the default): N threads (default 1), each a `Fiber.run` scheduler with a listener of
its own on the same address (`SO_REUSEPORT`, so the kernel deals the connections out) and a
fiber per connection that sends back each chunk its `Receiver` brings: one multishot recv per
connection, armed once, so a round trip costs one submission (the send) instead of two.
`--plain-recv`: a `recv` per round trip instead, into one buffer that passes through the ring
and comes back each time (the server before receivers, kept to measure them).  `--blocking`: what an ordinary Lean program would do
without fibers, one listener and one dedicated thread per connection making blocking calls.

It prints `echo: listening on ADDR` once every listener is bound (PORT 0 picks a free port,
printed), then serves forever, or until M connections were served in all (`--max-conns`, for
tests), and then prints `echo: served M connections`.  An error on a connection ends that
connection only.  Build: `lean -c echo.c echo.lean && leanc -O3 -o echo echo.c`; run under
`LEAN_IO_BACKEND=uring` or `=posix`.
-/
import Init.IO.Net
open IO Net

structure Config where
  threads : Nat := 1
  blocking : Bool := false
  plainRecv : Bool := false
  maxConns : Nat := 0
  host : String := "127.0.0.1"
  port : Option Nat := none

def usage : String :=
  "usage: echo [--threads N] [--blocking] [--plain-recv] [--max-conns M] [--host H] PORT"

partial def parseArgs (cfg : Config) : List String → Option Config
  | [] => if cfg.port.isSome then some cfg else none
  | "--threads" :: n :: rest => match n.toNat? with
    | some n => if n > 0 then parseArgs { cfg with threads := n } rest else none
    | none => none
  | "--blocking" :: rest => parseArgs { cfg with blocking := true } rest
  | "--plain-recv" :: rest => parseArgs { cfg with plainRecv := true } rest
  | "--max-conns" :: m :: rest => match m.toNat? with
    | some m => parseArgs { cfg with maxConns := m } rest
    | none => none
  | "--host" :: h :: rest => parseArgs { cfg with host := h } rest
  | p :: rest => match p.toNat?, cfg.port with
    | some p, none => if p < 65536 then parseArgs { cfg with port := some p } rest else none
    | _, _ => none

/-- The size of a connection's buffer: one `recv` takes at most this much. -/
def bufSize : Nat := 16384

/-- A reset or broken connection is the peer's choice, not worth a line each. -/
def report (e : IO.Error) : IO Unit :=
  match e with
  | IO.Error.resourceVanished .. => pure ()
  | e => IO.eprintln s!"echo: {e}"

/-! Fiber mode -/

partial def echoChunks (c : Socket) (rx : Receiver) : Fiber Unit := do
  let chunk ← rx.recv
  if chunk.size > 0 then
    discard <| c.sendAll chunk
    echoChunks c rx

partial def echoFiber (c : Socket) (buf : ByteArray) : Fiber Unit := do
  let (n, buf) ← c.recv buf
  if n > 0 then
    let buf ← c.sendAll buf
    echoFiber c (Ring.clear buf)

/-- Close `l` once `served` reaches `max`: another thread may have served the last connection,
and nothing else wakes this thread's fiber parked in `accept`. -/
partial def stopAt (l : Listener) (served : IO.Ref Nat) (max : Nat) : Fiber Unit := do
  if (← served.get) ≥ max then l.close else
  Fiber.sleep 20
  stopAt l served max

def fiberThread (cfg : Config) (fd : Int) (addr : SockAddr) (served : IO.Ref Nat) :
    Fiber Unit :=
  Switch.run fun sw => do
    let l : Listener := { fd := ← (Fiber.Fd.mk' fd s!"listener {addr}" : IO _), addr := addr }
    l.fd.closeOn sw
    if cfg.maxConns > 0 then Fiber.fork sw (stopAt l served cfg.maxConns)
    acceptFork sw l (fun e => report e) fun c _ => do
      c.setNoDelay
      let serve := if cfg.plainRecv then echoFiber c (ByteArray.mkEmpty bufSize)
        else do echoChunks c (← c.receiver)
      tryFinally serve (served.modify (· + 1))

/-! Blocking mode -/

partial def echoBlocking (c : Socket) (buf : ByteArray) : IO Unit := do
  let buf ← Blocking.recv c buf
  if buf.size > 0 then
    Blocking.sendAll c buf
    echoBlocking c (Ring.clear buf)

def serveBlocking (c : Socket) (served : IO.Ref Nat) : IO Unit := do
  try
    c.setNoDelay
    echoBlocking c (ByteArray.mkEmpty bufSize)
  catch e => report e
  try Blocking.close c catch e => report e
  served.modify (· + 1)

/-- Accept one connection and start its thread; `none` if accept failed (reported). -/
def acceptOne (l : Listener) (served : IO.Ref Nat) : IO (Option (Task (Except IO.Error Unit))) := do
  match ← tryCatch (some <$> Blocking.accept l) (fun e => do report e; pure none) with
  | none =>
    IO.sleep 10   -- out of fds, say: let connections end before accepting again
    pure none
  | some c => some <$> IO.asTask (serveBlocking c served) Task.Priority.dedicated

/-- Accept until `max` connections were accepted (`0`: forever); the tasks to wait for.  Its
call to itself is its last act in each branch, so it compiles to a loop: a long-lived server
accepts without growing its stack. -/
partial def acceptBlocking (l : Listener) (served : IO.Ref Nat) (max : Nat)
    (tasks : Array (Task (Except IO.Error Unit))) : IO (Array (Task (Except IO.Error Unit))) := do
  if max > 0 && tasks.size ≥ max then pure tasks
  else match ← acceptOne l served with
    | none => acceptBlocking l served max tasks
    | some t => acceptBlocking l served max (if max > 0 then tasks.push t else tasks)

/-! Start -/

def announce (addr : SockAddr) : IO Unit := do
  IO.println s!"echo: listening on {addr}"
  (← IO.getStdout).flush

def run (cfg : Config) (addr : SockAddr) : IO Unit := do
  let served ← IO.mkRef 0
  if cfg.blocking then
    let l ← Blocking.listen addr
    announce l.addr
    for t in ← acceptBlocking l served cfg.maxConns #[] do discard <| IO.wait t
    Blocking.closeListener l
  else
    -- Every listener is bound before the announcement, the first one choosing the port.
    let (fd, bound) ← listenFd addr (reusePort := true)
    let mut fds := #[fd]
    for _ in [1:cfg.threads] do
      fds := fds.push (← listenFd bound (reusePort := true)).1
    announce bound
    Fiber.runInThreads cfg.threads fun i => fiberThread cfg (fds.get! i) bound served
  if cfg.maxConns > 0 then IO.println s!"echo: served {← served.get} connections"

def main (args : List String) : IO UInt32 := do
  match parseArgs {} args with
  | none =>
    IO.eprintln usage
    return 2
  | some cfg =>
    let port := cfg.port.getD 0
    let text := if cfg.host.contains ':' then s!"[{cfg.host}]:{port}" else s!"{cfg.host}:{port}"
    try
      run cfg (← SockAddr.parse text)
      return 0
    catch e =>
      IO.eprintln s!"echo: {e}"
      return 1
