/- Receiving through one multishot recv (`Socket.receiver`): every byte of 100 echoed
connections, with the multishot recv and with plain recvs; the limit, which pauses the recv so
that the sender waits, and resumes it; a buffer group that runs dry under 40 connections while
the scheduler is blocked, and the re-arming that follows; a cancelled reader, which loses no
byte; a close while a reader waits; a peer's reset after its bytes. -/
import Init.IO.Net
open IO Net

def say (s : String) : Fiber Unit := IO.println s

def fiberError (act : Fiber α) : Fiber String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

/-- `n` bytes of a pattern that depends on `seed`. -/
def pattern (seed n : Nat) : ByteArray := Id.run do
  let mut b := ByteArray.mkEmpty n
  for i in [0:n] do b := b.push ((i * 7 + seed) % 256 : Nat).toUInt8
  b

partial def recvAll (rx : Receiver) (acc : ByteArray) : Fiber ByteArray := do
  let chunk ← rx.recv
  if chunk.size == 0 then pure acc else recvAll rx (acc ++ chunk)

partial def echo (c : Socket) (rx : Receiver) : Fiber Unit := do
  let chunk ← rx.recv
  if chunk.size == 0 then c.shutdown 1 else
  discard <| c.sendAll chunk
  echo c rx

/-- Send `data` while receiving its echo through a receiver; the echo is right? -/
def client (sw : Switch) (addr : SockAddr) (data : ByteArray) (multishot : Bool) : Fiber Bool := do
  let c ← connect sw addr
  let rx ← c.receiver (multishot := multishot)
  let (_, back) ← Fiber.both (do discard <| c.sendAll data; c.shutdown 1) (recvAll rx ByteArray.empty)
  c.close
  pure (back == data)

/-- `clients` connections of `size` bytes to an echo server that reads through receivers. -/
def echoRun (clients size : Nat) (multishot : Bool) : Fiber Bool := do
  let data := pattern clients size
  Switch.run fun sw => do
    let l ← listen sw (← SockAddr.parse "127.0.0.1:0")
    Fiber.fork sw <| acceptFork sw l (fun e => say s!"handler error: {e}") fun c _ => do
      echo c (← c.receiver (multishot := multishot))
    let results ← Switch.run fun csw => do
      let ps ← (List.range clients).mapM fun _ => Fiber.forkPromise csw (client csw l.addr data multishot)
      ps.mapM (·.awaitExn)
    l.close
    pure (results.all id)

/-- A reader that stops reading: the receiver holds at most about its limit, the sender waits,
and every byte arrives once the reader goes on. -/
def limit (sw : Switch) (l : Listener) : Fiber Unit := do
  let size := 32 * 1024 * 1024
  let data := pattern 5 size
  let sent ← IO.mkRef false
  let sender ← Fiber.forkPromise sw do
    let c ← accept sw l
    discard <| c.sendAll data
    sent.set true
    c.close
  let c ← connect sw l.addr
  let rx ← c.receiver (limit := 65536)
  let first ← rx.recv
  Fiber.sleep 300
  let st ← rx.state.get
  -- The cancel takes effect at the next wait, which may bring up to a group's worth of chunks.
  let bound := 65536 + 256 * Receiver.chunkSize
  say s!"limit 64 KiB: held at most the limit and a group: {decide (st.queued ≤ bound)}, paused: {!st.armed}, sender waiting: {!(← sent.get)}"
  let rest ← recvAll rx ByteArray.empty
  say s!"then every byte: {first.size + rest.size == size}, in order: {first ++ rest == data}, armed again: {decide ((← rx.state.get).arms > 1)}"
  sender.awaitExn
  c.close

partial def waitFor (flag : IO.Ref Bool) : IO Unit := do
  unless ← flag.get do
    IO.sleep 5
    waitFor flag

/-- 40 connections send 256 KiB each while the scheduler is blocked: 10 MiB for a group of
4 MiB (the sockets take it all, with 1 MiB receive buffers), so recvs end with `-ENOBUFS` and
are armed again, and no byte is lost. -/
def dry : Fiber Unit := Switch.run fun sw => do
  let n := 40
  let size := 256 * 1024
  let l ← listen sw (← SockAddr.parse "127.0.0.1:0")
  let addr := l.addr
  let payloads := (List.range n).map fun i => pattern i size
  let go ← IO.mkRef false
  let sent ← IO.mkRef false
  let peers ← IO.asTask (prio := Task.Priority.dedicated) do
    let cs ← (List.range n).mapM fun _ => Blocking.connect addr
    for c in cs do Blocking.sendAll c "h".toUTF8
    waitFor go
    for (c, p) in cs.zip payloads do Blocking.sendAll c p
    sent.set true
    for c in cs do Blocking.close c
  let mut rxs := #[]
  for _ in [0:n] do
    let c ← accept sw l
    Sys.setOption c.fd.fd solSocket 8 (1024 * 1024)   -- SO_RCVBUF
    let rx ← c.receiver (limit := 1024 * 1024)
    discard <| rx.recv
    rxs := rxs.push rx
  go.set true
  Fiber.liftIO do   -- the kernel takes the bytes; nothing reaps
    waitFor sent
    IO.sleep 50
  let mut ok := true
  let mut arms := 0
  for (rx, p) in rxs.toList.zip payloads do
    let got ← recvAll rx ByteArray.empty
    ok := ok && got == p
    arms := arms + (← rx.state.get).arms
  discard <| IO.ofExcept (← IO.wait peers)
  say s!"40 connections of 256 KiB past a blocked scheduler: every byte {ok}, armed again: {decide (arms > n)}"
  l.close

/-- A reader that loses a race is cancelled; the bytes that come next go to the next reader. -/
def cancelled (sw : Switch) (l : Listener) : Fiber Unit := do
  let server ← Fiber.forkPromise sw do
    let c ← accept sw l
    Fiber.sleep 100
    discard <| c.sendAll "late".toUTF8
    c.close
  let c ← connect sw l.addr
  let rx ← c.receiver
  let r ← Fiber.first (do pure s!"read {(← rx.recv).size}") (do Fiber.sleep 30; pure "timed out")
  let next ← rx.recv
  say s!"a cancelled reader: {r}, then {String.fromUTF8Unchecked next}, then {(← rx.recv).size}"
  server.awaitExn
  c.close

/-- A close while a reader waits; a peer that resets after sending. -/
def endings (sw : Switch) (l : Listener) : Fiber Unit := do
  let c ← connect sw l.addr
  let s ← accept sw l
  let rx ← c.receiver
  let pending ← Fiber.forkPromise sw rx.recv
  Fiber.sleep 20
  c.close
  let masked (e : String) := "PEER".intercalate (e.splitOn (toString c.peer))
  say s!"reader waiting at close: {masked (← fiberError pending.awaitExn)}"
  say s!"read after close: {masked (← fiberError rx.recv)}"
  let (n, _) ← s.recv (ByteArray.mkEmpty 16)
  say s!"the peer sees the end: {n}"
  s.close
  -- A reset: the peer closes with our bytes unread, after sending its own.
  let c ← connect sw l.addr
  let s ← accept sw l
  let rx ← c.receiver
  discard <| c.sendAll "unread".toUTF8
  discard <| s.sendAll "first".toUTF8
  let first ← rx.recv
  Fiber.sleep 20
  s.close
  let r ← fiberError (recvAll rx ByteArray.empty)
  let kind := if r.startsWith "resource vanished" then "resource vanished" else r
  say s!"a reset after {String.fromUTF8Unchecked first}: {kind}"
  c.close

/-- A receiver on a socket built by hand and never closed: its recv outlives every fiber, and
`Fiber.run` cancels it at the end instead of waiting for it. -/
def leftOpen : IO Unit := do
  let l ← Blocking.listen (← SockAddr.parse "127.0.0.1:0")
  let peer ← Blocking.connect l.addr
  let s ← Blocking.accept l
  Blocking.sendAll peer "one".toUTF8
  let got ← Fiber.run do
    let rx ← Socket.receiver { fd := s.fd, peer := s.peer }
    rx.recv
  IO.println s!"a receiver left armed on an open socket: read {String.fromUTF8Unchecked got}, and Fiber.run ended"
  Blocking.close s
  Blocking.close peer
  Blocking.closeListener l

def main : IO Unit := do
  Fiber.run do
    say s!"100 connections of 1 MiB, multishot: {← echoRun 100 (1024 * 1024) true}"
    say s!"100 connections of 1 MiB, plain recvs: {← echoRun 100 (1024 * 1024) false}"
    Switch.run fun sw => do
      let l ← listen sw (← SockAddr.parse "127.0.0.1:0")
      limit sw l
      cancelled sw l
      endings sw l
      l.close
    dry
  leftOpen
  IO.println "done"
