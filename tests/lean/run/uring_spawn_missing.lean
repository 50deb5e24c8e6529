/- Spawning a command that does not exist: the forked child reports it and exits.  At the
   pinned upstream, the POSIX child's exit also flushes its copy of the parent's stdout
   buffer, so buffered output appears twice (uring_spawn_missing.lean.posix.expected.out);
   under uring the child leaves the parent's buffers (and ring) alone: docs/differences.md. -/
open IO.Process

def main : IO Unit := do
  IO.println "buffered before spawning"
  -- stdin piped, so spawn does not flush stdout first
  let child ← spawn { cmd := "no-such-command-lean-uring", stdin := Stdio.piped }
  IO.println s!"child exit: {← child.wait}"
