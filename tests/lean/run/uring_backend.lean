/- Which backend runs this process; the runner expects "uring" under LEAN_IO_BACKEND=uring
   (uring_backend.lean.expected.out) and "posix" under LEAN_IO_BACKEND=posix
   (uring_backend.lean.posix.expected.out), so a silent fallback cannot pass.
   Also difference 3 of docs/differences.md: `read 0`, whose POSIX result is built from a stale
   errno (it differs between `lean --run` and a compiled program), so it is only checked under uring. -/
import Init.IO.Backend

def main : IO Unit := do
  let backend ← IO.backendName
  IO.println s!"backend: {backend}"
  discard IO.backendReason
  IO.FS.writeFile "x.txt" "abc"
  let h ← IO.FS.Handle.mk "x.txt" IO.FS.Mode.read
  if backend == "uring" then
    IO.println s!"read 0: {(← h.read 0).size} bytes, eof={← h.isEof}"
  IO.println s!"read 10: {(← h.read 10).size} bytes"
