/- TCP on fibers: addresses, IPv4 and IPv6 loopback echo (1 and 500 connections of 1 MiB each, from
one multishot accept; 200 from single-shot accepts),
registered sockets and the end of their registration at close,
and the failures: a refused connect, a peer that resets mid-send, a half-close, a closed socket,
a close with a receive in flight; then the blocking form of the API across two threads. -/
import Init.IO.Net
import Init.IO.Backend
open IO Net

def say (s : String) : Fiber Unit := IO.println s

def text (b : ByteArray) : String := String.fromUTF8Unchecked b

def fiberError (act : Fiber α) : Fiber String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

/-- `n` bytes of a pattern that depends on `seed`. -/
def pattern (seed n : Nat) : ByteArray := Id.run do
  let mut b := ByteArray.mkEmpty n
  for i in [0:n] do b := b.push ((i * 7 + seed) % 256 : Nat).toUInt8
  b

partial def echo (c : Socket) : Fiber Unit := do
  let (n, buf) ← c.recv (ByteArray.mkEmpty 65536)
  if n == 0 then c.shutdown 1 else
  discard <| c.sendAll buf
  echo c

partial def recvAll (c : Socket) (acc : ByteArray) : Fiber ByteArray := do
  let (n, buf) ← c.recv (ByteArray.mkEmpty 65536)
  if n == 0 then pure acc else recvAll c (acc ++ buf)

/-- Connect to `addr`, send `data` while receiving the echo, and check it. -/
def client (sw : Switch) (addr : SockAddr) (data : ByteArray) : Fiber Bool := do
  let c ← connect sw addr
  let (_, back) ← Fiber.both (do discard <| c.sendAll data; c.shutdown 1) (recvAll c ByteArray.empty)
  c.close
  pure (back == data)

/-- An echo server on `bind`, `clients` clients of `size` bytes each; all replies right? -/
def echoRun (bind : SockAddr) (clients size : Nat) (multishot := true) : Fiber Bool := do
  let data := pattern clients size
  Switch.run fun sw => do
    let l ← listen sw bind
    Fiber.fork sw (acceptFork sw l (fun e => say s!"handler error: {e}") (fun c _ => echo c) multishot)
    let results ← Switch.run fun csw => do
      let ps ← (List.range clients).mapM fun _ => Fiber.forkPromise csw (client csw l.addr data)
      ps.mapM (·.awaitExn)
    l.close
    pure (results.all id)

def refused (sw : Switch) : Fiber Unit := do
  -- A refused connect: a port that was just free.
  let port ← Switch.run fun s2 => do
    let l ← listen s2 (← SockAddr.parse "127.0.0.1:0")
    pure l.addr.port
  say s!"refused connect: {← fiberError (connect sw { ip := IpAddr.loopback4, port := port })}"
  say s!"refused connect, IPv6: {← fiberError (connect sw { ip := IpAddr.loopback6, port := port })}"

/-- A half-close: the client shuts down its writing side, the server replies after EOF. -/
def halfClose (sw : Switch) (l : Listener) : Fiber Unit := do
  let server ← Fiber.forkPromise sw do
    let c ← accept sw l
    let got ← recvAll c ByteArray.empty
    discard <| c.sendAll s!"got {got.size} bytes".toUTF8
    c.close
  let c ← connect sw l.addr
  c.setNoDelay
  say s!"TCP_NODELAY: {← c.noDelay}"
  discard <| c.sendAll "abc".toUTF8
  c.shutdown 1
  say s!"half-close reply: {text (← recvAll c ByteArray.empty)}"
  server.awaitExn
  c.close

/-- Sockets are registered with the ring under uring, not under the emulation; a close ends the
registration, so the peer sees EOF at once and the fd number, reused by the next socket,
reaches that socket (a stale registration would send into the old one). -/
def registered (sw : Switch) (l : Listener) : Fiber Unit := do
  let uring := (← (IO.backendName : IO String)) == "uring"
  let c ← connect sw l.addr
  let s ← accept sw l
  let fd := s.fd.fd
  let reg ← Fiber.registerFile fd
  s.close
  let (n, _) ← c.recv (ByteArray.mkEmpty 16)
  let c2 ← connect sw l.addr
  let s2 ← accept sw l
  discard <| c2.sendAll "hello".toUTF8
  let (_, got) ← s2.recv (ByteArray.mkEmpty 16)
  say s!"registered as the backend says: {reg == uring}, peer sees EOF: {n == 0}, fd reused: {c2.fd.fd == fd}, received: {text got}"
  c.close
  c2.close
  s2.close

def sendMany (c : Socket) (big : ByteArray) : Nat → Fiber Unit
  | 0 => pure ()
  | n + 1 => do discard <| c.sendAll big; sendMany c big n

/-- A peer that resets mid-send: it closes with our bytes unread, which sends RST. -/
def reset (sw : Switch) (l : Listener) : Fiber Unit := do
  let server ← Fiber.forkPromise sw do
    let c ← accept sw l
    let (n, _) ← c.recv (ByteArray.mkEmpty 1024)
    c.close
    pure n
  let c ← connect sw l.addr
  let r ← fiberError (sendMany c (pattern 1 (4 * 1024 * 1024)) 64)
  let n ← server.awaitExn
  let kind := if r.startsWith "resource vanished" then "resource vanished" else r
  say s!"server read {decide (n > 0)}, then sending on: {kind}"
  c.close

/-- A closed socket, and a close while a receive is in flight. -/
def closing (sw : Switch) (l : Listener) : Fiber Unit := do
  let server ← Fiber.forkPromise sw do
    let c ← accept sw l
    Fiber.sleep 200
    c.close
  let c ← connect sw l.addr
  let pending ← Fiber.forkPromise sw (c.recv (ByteArray.mkEmpty 16))
  Fiber.sleep 20
  c.close
  let masked (e : String) := "PEER".intercalate (e.splitOn (toString c.peer))
  say s!"receive in flight at close: {masked (← fiberError pending.awaitExn)}"
  say s!"receive on a closed socket: {masked (← fiberError (c.recv (ByteArray.mkEmpty 16)))}"
  say s!"send on a closed socket: {masked (← fiberError (c.send "x".toUTF8))}"
  server.awaitExn

def handler (c : Socket) (_ : SockAddr) : Fiber Unit := do
  let (n, _) ← c.recv (ByteArray.mkEmpty 16)
  if n == 1 then throw (IO.userError "handler failed on purpose")
  discard <| c.sendAll "ok".toUTF8

def ask (l : Listener) (sw : Switch) (msg : String) : Fiber Unit := do
  let c ← connect sw l.addr
  discard <| c.sendAll msg.toUTF8
  c.shutdown 1
  say s!"reply to {msg}: {repr (text (← recvAll c ByteArray.empty))}"
  c.close

/-- A handler's error goes to onError, and the server goes on accepting. -/
def handlerErrors (sw : Switch) : Fiber Unit := do
  let errors ← IO.mkRef #[]
  let l2 ← listen sw (← SockAddr.parse "[::1]:0")
  Fiber.fork sw (acceptFork sw l2 (fun e => errors.modify (·.push (toString e))) handler)
  ask l2 sw "x"
  ask l2 sw "yy"
  l2.close
  say s!"handler errors: {← errors.get}"

partial def blockingEcho (c : Socket) (total : Nat) : IO Nat := do
  let b ← Blocking.recv c (ByteArray.mkEmpty 65536)
  if b.size == 0 then pure total else do
    Blocking.sendAll c b
    blockingEcho c (total + b.size)

partial def blockingDrain (c : Socket) (acc : ByteArray) : IO ByteArray := do
  let b ← Blocking.recv c (ByteArray.mkEmpty 65536)
  if b.size == 0 then pure acc else blockingDrain c (acc ++ b)

def main : IO Unit := do
  -- Addresses.
  for s in ["127.0.0.1:80", "localhost:8080", "[::1]:443", "[2001:db8::8:800:200c:417a]:1",
            "[::ffff:192.0.2.1]:7", "[1:0:0:2:0:0:0:3]:9", "[fe80:0:0:0:0:0:0:0]:0"] do
    match SockAddr.parse? s with
    | some a => IO.println s!"parse {s}: {a}"
    | none => IO.println s!"parse {s}: none"
  for s in ["1.2.3:4", "256.0.0.1:1", "::1:80", "[::1]", "1.2.3.4:65536", "[1::2::3]:1", "host:1", "1.2.3.4:"] do
    IO.println s!"parse {s}: {(SockAddr.parse? s).isSome}"
  IO.println s!"error: {← tryCatch (do discard (SockAddr.parse "nope"); pure "ok") (fun e => pure (toString e))}"
  Fiber.run do
    say s!"IPv4, 1 connection of 1 MiB: {← echoRun (← SockAddr.parse "127.0.0.1:0") 1 (1024 * 1024)}"
    say s!"IPv6, 1 connection of 1 MiB: {← echoRun (← SockAddr.parse "[::1]:0") 1 (1024 * 1024)}"
    say s!"IPv4, 500 connections of 1 MiB: {← echoRun (← SockAddr.parse "127.0.0.1:0") 500 (1024 * 1024)}"
    say s!"IPv6, 500 connections of 1 MiB: {← echoRun (← SockAddr.parse "[::1]:0") 500 (1024 * 1024)}"
    say s!"IPv4, 200 connections of 64 KiB, an accept each: {← echoRun (← SockAddr.parse "127.0.0.1:0") 200 65536 false}"
    Switch.run fun sw => do
      refused sw
      let l ← listen sw (← SockAddr.parse "127.0.0.1:0") (reusePort := true)
      halfClose sw l
      registered sw l
      reset sw l
      closing sw l
      handlerErrors sw
      l.close
  -- The blocking API: a server thread and a client, no scheduler.
  let l ← Blocking.listen (← SockAddr.parse "127.0.0.1:0")
  let t ← IO.asTask (prio := Task.Priority.dedicated) do
    let c ← Blocking.accept l
    let n ← blockingEcho c 0
    Blocking.close c
    pure n
  let c ← Blocking.connect l.addr
  let data := pattern 3 (1024 * 1024 + 7)
  let sender ← IO.asTask (prio := Task.Priority.dedicated) do
    Blocking.sendAll c data
    Blocking.shutdown c 1
  let back ← blockingDrain c ByteArray.empty
  discard <| IO.ofExcept (← IO.wait sender)
  IO.println s!"blocking echo: {back.size} bytes, equal {back == data}, server saw {← IO.ofExcept (← IO.wait t)}"
  Blocking.close c
  Blocking.closeListener l
  IO.println "done"
