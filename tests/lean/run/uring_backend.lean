/- Which backend runs this process; the runner expects "uring" under LEAN_IO_BACKEND=uring
   (uring_backend.lean.expected.out) and "posix" under LEAN_IO_BACKEND=posix
   (uring_backend.lean.posix.expected.out), so a silent fallback cannot pass. -/
import Init.IO.Backend

def main : IO Unit := do
  IO.println s!"backend: {← IO.backendName}"
  discard IO.backendReason
