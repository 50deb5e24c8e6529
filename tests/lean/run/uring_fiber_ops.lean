/- Every fiber operation, with its results and its errors, on real files, pipes and loopback
sockets; then an echo server whose fibers serve 50 connections at once. -/
import Init.IO.Fiber
open IO

def say (s : String) : Fiber Unit := IO.println s

def attempt (what : String) (act : Fiber String) : Fiber Unit := do
  try say s!"{what}: {← act}" catch e => say s!"{what}: error: {e}"

def text (b : ByteArray) : String := String.fromUTF8Unchecked b

-- O_WRONLY|O_CREAT|O_TRUNC, O_RDONLY, O_RDWR
def creat : UInt32 := 0o1101
def rdonly : UInt32 := 0
def statxBasic : UInt32 := 0x7ff

partial def echo (fd : Int) : Fiber Unit := do
  let (n, buf) ← Fiber.recv fd (ByteArray.mkEmpty 64)
  if n == 0 then
    Fiber.close fd
  else
    discard (Fiber.send fd buf)
    echo fd

/-- Receive until `want` bytes have come. -/
partial def recvAll (fd : Int) (want : Nat) (got : String := "") : Fiber String := do
  if got.length ≥ want then return got
  let (n, buf) ← Fiber.recv fd (ByteArray.mkEmpty 64)
  if n == 0 then throw (IO.userError "server closed early")
  recvAll fd want (got ++ text buf)

def client (port : UInt16) (i : Nat) : Fiber String := do
  let fd ← Ring.tcpSocket
  Fiber.connect fd 0x7f000001 port
  let mut got := ""
  for j in [0:3] do
    let msg := s!"c{i}m{j};"
    discard (Fiber.send fd msg.toUTF8)
    got := got ++ (← recvAll fd msg.length)
  Fiber.shutdown fd 1
  let (n, _) ← Fiber.recv fd (ByteArray.mkEmpty 8)
  Fiber.close fd
  pure s!"{got} eof={n == 0}"

def main : IO Unit := do
  IO.FS.createDirAll "fiber_ops"
  Fiber.run do
    let dir := "fiber_ops"
    let fd ← Fiber.openAt Ring.atFdCwd s!"{dir}/f.txt" creat 0o644
    let (n, back) ← Fiber.writeAt fd "hello, fibers\n".toUTF8 0
    say s!"writeAt: {n} bytes, buffer back {back.size}"
    let (n, _) ← Fiber.write fd "more\n".toUTF8
    say s!"write at the position: {n}"
    Fiber.close fd
    let fd ← Fiber.openAt Ring.atFdCwd s!"{dir}/f.txt" rdonly 0
    let (n, buf) ← Fiber.readAt fd (ByteArray.mkEmpty 5) 7
    say s!"readAt 7: {n} {text buf}"
    let (n, buf) ← Fiber.read fd (ByteArray.mkEmpty 100)
    say s!"read: {n} {repr (text buf)}"
    let (n, _) ← Fiber.read fd (ByteArray.mkEmpty 100)
    say s!"read at end of file: {n}"
    let m ← Fiber.statx Ring.atFdCwd s!"{dir}/f.txt" 0 statxBasic
    say s!"statx: {m.metadata.byteSize} bytes, {repr m.metadata.type}"
    Fiber.close fd
    attempt "open a missing file" do pure s!"{← Fiber.openAt Ring.atFdCwd s!"{dir}/missing" rdonly 0}"
    attempt "statx a missing file" do pure s!"{(← Fiber.statx Ring.atFdCwd s!"{dir}/missing" 0 statxBasic).metadata.byteSize}"
    attempt "close a bad fd" do Fiber.close 1000000; pure "closed"
    attempt "read a bad fd" do pure s!"{(← Fiber.read 1000000 (ByteArray.mkEmpty 4)).1}"
    attempt "write to a read-only fd" do
      let fd ← Fiber.openAt Ring.atFdCwd s!"{dir}/f.txt" rdonly 0
      try pure s!"{(← Fiber.write fd "x".toUTF8).1}" finally Fiber.close fd
    let lfd ← Ring.tcpListen 0
    let port ← Ring.localPort lfd
    attempt "recv on a file" do
      let fd ← Fiber.openAt Ring.atFdCwd s!"{dir}/f.txt" rdonly 0
      try pure s!"{(← Fiber.recv fd (ByteArray.mkEmpty 4)).1}" finally Fiber.close fd
    attempt "accept on an unbound socket" do
      let s ← Ring.tcpSocket
      try pure s!"{← Fiber.accept s}" finally Fiber.close s
    attempt "connect to a closed port" do
      let probe ← Ring.tcpListen 0
      let closedPort ← Ring.localPort probe
      Fiber.close probe
      let s ← Ring.tcpSocket
      try Fiber.connect s 0x7f000001 closedPort; pure "connected" finally Fiber.close s
    -- splice moves bytes between pipes without a buffer in Lean
    let (r1, w1) ← Ring.pipe
    let (r2, w2) ← Ring.pipe
    discard (Fiber.write w1 "spliced".toUTF8)
    let n ← Fiber.splice r1 Ring.noOffset w2 Ring.noOffset 64
    let (_, buf) ← Fiber.read r2 (ByteArray.mkEmpty 64)
    say s!"splice: {n} {text buf}"
    for fd in [r1, w1, r2, w2] do Fiber.close fd
    -- the echo server: one fiber accepts, a fiber per connection echoes
    let replies ← Switch.run fun sw => do
      Fiber.fork sw do
        Switch.run fun conns => do
          for _ in [0:50] do
            let c ← Fiber.accept lfd
            Fiber.fork conns (echo c)
      let ps ← (List.range 50).mapM fun i => Fiber.forkPromise sw (client port i)
      ps.mapM (·.awaitExn)
    let good := replies.enum.all fun (i, r) => r == s!"c{i}m0;c{i}m1;c{i}m2; eof=true"
    say s!"echo: {replies.length} clients, all replies right: {good}"
    say s!"first: {replies.head!}"
    Fiber.close lfd
