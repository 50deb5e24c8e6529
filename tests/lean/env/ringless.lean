/- Threads that cannot set up a ring (issue #13, case 2), run by run-backends.sh under a low
   fd limit (with_nofile).  The main thread, whose ring already exists, opens /dev/null until
   EMFILE, so a new thread has no fd for a ring; then dedicated tasks use handles opened
   before: one writes and flushes, the other holds the last reference, so the handle is
   closed on its ringless thread, and in between a third opens a file.  Under every backend every byte
   must reach the files and no fd may leak: file writes are syscalls under uring too
   (ops.h), and a close never needs the ring.  The open shows the difference: under posix
   and auto (which falls back to POSIX for that thread, and says so once on stderr: checked
   by run-backends.sh) it fails with EMFILE, and under a forced uring with an IO.Error that
   says the thread has no ring (ringless.<backend>.expected.out).  Fibers follow the same
   rule: on the emulated ring under posix and auto, refused under a forced uring. -/
import Init.IO.Fiber
open IO.FS

def fdCount : IO Nat := do
  return (← System.FilePath.readDir "/proc/self/fd").size

/-- 30 lines, about 1.5 KB: two fit in a handle's 4 KiB buffer, so only flush and close write. -/
def payload (tag : String) : String :=
  String.join ((List.range 30).map fun i => s!"{tag} {i} the quick brown fox jumps over the lazy dog\n")

partial def exhaust (acc : Array Handle) : IO (Array Handle × String) := do
  try
    let h ← Handle.mk "/dev/null" Mode.read
    exhaust (acc.push h)
  catch e =>
    return (acc, toString e)

/-- Everything with the handles, which are all gone when it returns. -/
def scenario : IO Unit := do
  let flushed ← Handle.mk "flushed.txt" Mode.write
  let dropped ← Handle.mk "dropped.txt" Mode.write
  dropped.putStr (payload "main")
  let (fillers, err) ← exhaust #[]
  -- the fillers stay open until `held.set #[]`
  let held ← IO.mkRef fillers
  IO.println s!"fds exhausted: {err}"
  let t ← IO.asTask (do flushed.putStr (payload "task"); flushed.flush) Task.Priority.dedicated
  match t.get with
  | Except.ok _ => IO.println "flush in a task without a ring: ok"
  | Except.error e => IO.println s!"flush in a task without a ring: {e}"
  let t ← IO.asTask (Handle.mk "opened.txt" Mode.write) Task.Priority.dedicated
  match t.get with
  | Except.ok _ => IO.println "open in a task without a ring: ok"
  | Except.error e => IO.println s!"open in a task without a ring: {e}"
  let t ← IO.asTask (IO.Fiber.run do IO.Fiber.sleep 1; IO.Fiber.nop; pure "ran") Task.Priority.dedicated
  match t.get with
  | Except.ok s => IO.println s!"fibers in a task without a ring: {s}"
  | Except.error e => IO.println s!"fibers in a task without a ring: {e}"
  -- `dropped` is not used below: the task's closure holds its last reference
  let t ← IO.asTask (dropped.putStr (payload "task")) Task.Priority.dedicated
  match t.get with
  | Except.ok _ => IO.println "write in a task without a ring, then close there: ok"
  | Except.error e => IO.println s!"write in a task without a ring, then close there: {e}"
  held.set #[]
  -- on the main thread, which has its ring
  flushed.flush

def main : IO Unit := do
  let before ← fdCount
  scenario
  let after ← fdCount
  let f ← readFile "flushed.txt"
  IO.println s!"flushed.txt: {f.length} bytes, as written: {f == payload "task"}"
  let d ← readFile "dropped.txt"
  IO.println s!"dropped.txt: {d.length} bytes, as written: {d == payload "main" ++ payload "task"}"
  IO.println s!"fds leaked: {Int.ofNat after - Int.ofNat before}"
