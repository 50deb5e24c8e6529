/-
The IO backend of this process (lean-uring): which one `LEAN_IO_BACKEND` selected at startup,
and why.  Tests use it so that a silent fallback to POSIX cannot pass for an io_uring run.
-/
prelude
import Init.System.IO

namespace IO

/-- `"uring"` or `"posix"`: the backend that performs this process's IO. -/
@[extern "lean_io_backend_name"] constant backendName : IO String

/-- Why this backend was chosen, e.g. why `auto` fell back to POSIX; may be empty. -/
@[extern "lean_io_backend_reason"] constant backendReason : IO String

end IO
