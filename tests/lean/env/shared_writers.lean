/- Writers sharing one open file (issue #13, case 1), run by run-backends.sh (shared_log),
   which checks afterwards that the file holds every writer's lines "<tag> <i> <payload>",
   i = 0 .. n-1, each intact and in order, and nothing else: no byte may be overwritten.
   Under uring a write at the file position (IORING_OP_WRITE at offset -1) did not take the
   position lock that write(2) takes, so writers on one open file overwrote each other.

     shared_writers stdio N        a task prints N "out" lines on stdout while another prints
                                   N "err" lines on stderr (run as `>log 2>&1` and `>>log 2>&1`)
     shared_writers stdio-flush N  the same, with stdout flushed after each line, so that both
                                   writers write all the time
     shared_writers child N        a child (sh) inheriting stdout prints N "child" lines while
                                   we print N "parent" lines, flushing each (run as `>log 2>&1`)
     shared_writers append FILE N  two tasks with their own Mode.append handle on FILE write
                                   N "a" and N "b" lines, flushing each -/
def payload : String := "the quick brown fox jumps over the lazy dog"

def line (tag : String) (i : Nat) : String := s!"{tag} {i} {payload}"

def lines (n : Nat) (write : String → IO Unit) (tag : String) : IO Unit := do
  for i in [0:n] do
    write (line tag i)

def together (actions : List (IO Unit)) : IO Unit := do
  let tasks ← actions.mapM fun act => IO.asTask act Task.Priority.dedicated
  for t in tasks do
    IO.ofExcept t.get

def main (args : List String) : IO UInt32 := do
  match args with
  | ["stdio", n] =>
    together [lines n.toNat! IO.println "out", lines n.toNat! IO.eprintln "err"]
  | ["stdio-flush", n] =>
    let out ← IO.getStdout
    together [lines n.toNat! (fun l => do out.putStrLn l; out.flush) "out", lines n.toNat! IO.eprintln "err"]
  | ["child", n] =>
    let script := "i=0; while [ $i -lt " ++ n ++ " ]; do echo \"child $i " ++ payload ++ "\"; i=$((i + 1)); done"
    let child ← IO.Process.spawn { cmd := "sh", args := #["-c", script] }
    let out ← IO.getStdout
    lines n.toNat! (fun l => do out.putStrLn l; out.flush) "parent"
    discard child.wait
  | ["append", file, n] =>
    let write (tag : String) : IO Unit := do
      let h ← IO.FS.Handle.mk file IO.FS.Mode.append
      lines n.toNat! (fun l => do h.putStrLn l; h.flush) tag
    together [write "a", write "b"]
  | _ =>
    IO.eprintln "usage: shared_writers stdio N | stdio-flush N | child N | append FILE N"
    return 2
  return 0
