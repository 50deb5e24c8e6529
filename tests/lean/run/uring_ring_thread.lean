/- Rings are per thread: a ring used on another thread is refused with an IO.Error; each thread
   gets its own; a thread that ends with an operation in flight releases it (its read never
   consumes data meant for someone else). -/
import Init.IO.Ring
open IO.Ring

partial def collect (r : IO.Ring) (n : Nat) (acc : Array Cqe := #[]) : IO (Array Cqe) := do
  if acc.size ≥ n then return acc
  let cs ← r.wait
  if cs.isEmpty then throw (IO.userError "wait: nothing in flight")
  collect r n (acc ++ cs)

def main : IO Unit := do
  let r ← IO.Ring.current
  let t ← IO.asTask (r.nop 1) Task.Priority.dedicated
  match ← IO.wait t with
  | Except.ok _ => IO.println "another thread used this thread's ring!"
  | Except.error e => IO.println s!"from another thread: {e}"
  let t ← IO.asTask (do discard IO.Ring.current; r.nop 1) Task.Priority.dedicated
  match ← IO.wait t with
  | Except.ok _ => IO.println "a thread with a ring of its own used this thread's ring!"
  | Except.error e => IO.println s!"from a thread with a ring of its own: {e}"
  let t ← IO.asTask (do r.nop 1; discard <| r.wait) Task.Priority.dedicated
  match ← IO.wait t with
  | Except.ok _ => IO.println "another thread waited on this thread's ring!"
  | Except.error e => IO.println s!"waiting from another thread: {e}"
  let t ← IO.asTask (do
    let own ← IO.Ring.current
    own.nop 5
    let cs ← collect own 1
    return cs[0].userData) Task.Priority.dedicated
  IO.println s!"a task's own ring: {← IO.ofExcept (← IO.wait t)}"
  -- a thread that ends with reads in flight on an empty pipe
  let (rd, wr) ← pipe
  let t ← IO.asTask (do
    let own ← IO.Ring.current
    for i in [0:8] do
      own.read rd (ByteArray.mkEmpty 16) i.toUInt64
    discard <| own.poll
    return (← own.inflight)) Task.Priority.dedicated
  IO.println s!"the task left {← IO.ofExcept (← IO.wait t)} reads in flight and ended"
  IO.sleep 50
  r.write wr "for main".toUTF8 1
  r.read rd (ByteArray.mkEmpty 16) 2
  let cs ← collect r 2
  for c in cs do
    if c.userData == (2 : UInt64) then
      IO.println s!"main reads what it wrote: {repr (String.fromUTF8Unchecked c.buffer)}"
  IO.println s!"this thread's ring still works: {(← r.inflight) == 0}"
