/- Buffer ownership: a buffer shared with another Lean value is copied before the kernel writes
   into it, so the alias never changes; a buffer the kernel only reads is handed back as it was. -/
import Init.IO.Ring
open IO.Ring

partial def collect (r : IO.Ring) (n : Nat) (acc : Array Cqe := #[]) : IO (Array Cqe) := do
  if acc.size ≥ n then return acc
  let cs ← r.wait
  if cs.isEmpty then throw (IO.userError "wait: nothing in flight")
  collect r n (acc ++ cs)

def text (b : ByteArray) : String := String.fromUTF8Unchecked b

/-- `s`'s bytes in a buffer with room for `spare` more. -/
def withSpare (s : String) (spare : Nat) : ByteArray :=
  s.toUTF8.toList.foldl (·.push ·) (ByteArray.mkEmpty (s.utf8ByteSize + spare))

def main : IO Unit := do
  let r ← IO.Ring.current
  let (rd, wr) ← pipe
  let msg := "data from the pipe"
  r.write wr msg.toUTF8 1
  discard <| collect r 1
  let buf := withSpare "old:" 60
  r.read rd buf 2   -- `buf` is used below: shared, so the kernel writes into a copy
  let c := (← collect r 1)[0]
  IO.println s!"read res={c.res}, handed back: {repr (text c.buffer)}"
  IO.println s!"the alias is unchanged: {repr (text buf)} (size {buf.size})"
  -- a buffer nobody else holds is filled in place, and comes back with its capacity
  r.write wr msg.toUTF8 6
  r.read rd (withSpare "new:" 60) 7
  let c := (← collect r 2).filter (·.userData == (7 : UInt64))
  IO.println s!"exclusive buffer: {repr (text c[0].buffer)}"
  let out := "sent as is".toUTF8
  r.write wr out 3
  let c := (← collect r 1)[0]
  IO.println s!"write res={c.res}, handed back: {repr (text c.buffer)}, alias: {repr (text out)}"
  -- updating the alias while the write is in flight copies it: the kernel's buffer is untouched
  let big := ByteArray.mk (mkArray 100000 65)
  r.write wr big 4
  let big2 := big.set! 0 66
  r.read rd (ByteArray.mkEmpty 200000) 5
  let cs ← collect r 2
  IO.println s!"alias updated while in flight: {big2.get! 0} vs {big.get! 0}"
  for c in cs do
    if c.userData == (4 : UInt64) then
      IO.println s!"the in-flight buffer came back unchanged: {c.buffer.get! 0 == (65 : UInt8) && c.buffer.size == 100000}"
