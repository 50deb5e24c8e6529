/- Cancellation with ring operations in flight: reads on a pipe, recvs and an accept on loopback
sockets.  Each cancelled operation hands its buffer back (raw Fiber.submit shows it), a read that
had already finished delivers its bytes, no fd is left open, and a timer racing a completion
gives one winner. -/
import Init.IO.Fiber
open IO

def say (s : String) : Fiber Unit := IO.println s

def openFds : IO Nat := do
  return (← System.FilePath.readDir "/proc/self/fd").size

def closeFd (fd : Int) : Fiber Unit := Fiber.close fd

/-- `s` in a buffer with room for 64 KiB more: big enough to come from malloc, not from Lean's
small-object allocator, so that the sanitizer runs (run-backends.sh) see its memory. -/
def withRoom (s : String) : ByteArray :=
  s.toUTF8.data.foldl (init := ByteArray.mkEmpty (s.length + 65536)) fun b c => b.push c

def main : IO Unit := do
  let before ← openFds
  -- raw submissions cancelled while parked: each completion still brings its buffer back
  let (r, w) ← Ring.pipe
  let lfd ← Ring.tcpListen 0
  let port ← Ring.localPort lfd
  let c ← Ring.tcpSocket
  Fiber.run do
    let cqes ← IO.mkRef #[]
    Switch.run fun sw => do
      let conn ← IO.mkRef (-1 : Int)
      Fiber.fork sw do
        -- the peer: connect, so that the accept below completes, and send nothing
        Fiber.connect c 0x7f000001 port
      let a ← Fiber.accept lfd
      conn.set a
      let pending : Array (String × (Ring → UInt64 → IO Unit)) := #[
        ("pipe read", fun ring u => ring.read r (withRoom "abc") u),
        ("recv", fun ring u => ring.recv a (withRoom "xy") 0 u)]
      Switch.run fun inner => do
        for (name, op) in pending do
          Fiber.fork inner do
            let cqe ← Fiber.submit op
            cqes.modify (·.push (name, cqe))
        Fiber.sleep 5
        Switch.cancelFibers inner "test"
      let seen := (← cqes.get).qsort fun a b => a.1 < b.1
      for (name, cqe) in seen do
        let cqe : Ring.Cqe := cqe
        say s!"{name}: res {cqe.res}, buffer back: {String.fromUTF8Unchecked cqe.buffer}"
      closeFd a
  -- a read that finished before its cancel delivers its bytes; the fiber raises afterwards
  Fiber.run do
    discard (Fiber.write w "late".toUTF8)
    Switch.run fun sw => do
      Fiber.fork sw do
        try
          let (n, buf) ← Fiber.read r (ByteArray.mkEmpty 16)
          say s!"read {n}: {String.fromUTF8Unchecked buf}"
          Fiber.yield
          say "not reached"
        catch e => say s!"then cancelled: {e.isCancelled}"
      Switch.cancelFibers sw "right away"
  -- an accept cancelled while parked; the listener stays usable
  Fiber.run do
    try
      Switch.run fun sw => do
        Fiber.fork sw do
          let fd ← Fiber.accept lfd
          say s!"unexpected connection {fd}"
        Fiber.sleep 5
        throw (IO.userError "stop accepting")
    catch e => say s!"accept: {e}"
    let c2 ← Ring.tcpSocket
    let (fd, _) ← Fiber.both (Fiber.accept lfd) (Fiber.connect c2 0x7f000001 port)
    say s!"listener still accepts: {decide (fd ≥ 0)}"
    closeFd fd
    closeFd c2
  -- a timer racing a completion: data that is there wins, a silent pipe loses to the timer
  Fiber.run do
    discard (Fiber.write w "x".toUTF8)
    let r1 ← Fiber.first (do let (n, _) ← Fiber.read r (ByteArray.mkEmpty 4); pure s!"read {n}")
                         (do Fiber.sleep 1000; pure "timer")
    say s!"race with data: {r1}"
    let r2 ← Fiber.first (do let (n, _) ← Fiber.read r (ByteArray.mkEmpty 4); pure s!"read {n}")
                         (do Fiber.sleep 10; pure "timer")
    say s!"race without data: {r2}"
    let r3 ← Fiber.first (do Fiber.sleep 10; pure "timer 10")
                         (do Fiber.sleep 0; pure "timer 0")
    say s!"two timers: {r3}"
    for fd in [r, w, lfd, c] do closeFd fd
  IO.println s!"fds left open: {(← openFds) - before}"
