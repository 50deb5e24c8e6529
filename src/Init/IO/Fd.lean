/-
A file descriptor owned by fibers (lean-uring): the base of the typed files, sockets and pipes
(`Init.IO.File`, `Init.IO.Net`, `Init.IO.Flow`).

Closing an fd does not stop the ring operations that use it: a `recv` in flight keeps the
kernel's reference to the socket, and the fd number may be reused at once by an `open`
(liburing#568).  So an `Fd` counts its operations in flight, and `close`, as Eio's `Rcfd`
does, first refuses new operations, then cancels those in flight and waits for their last
completion, and only then closes.  Each operation runs in its fiber's cancellation context
extended by the fd's own flag, so the scheduler's ordinary cancellation reaches it.
-/
prelude
import Init.IO.Fiber
import Init.IO.NetPrim

namespace IO
namespace Fiber

/-- What an `Fd` knows of its use: operations in flight, and whether `close` has begun. -/
structure FdState where
  inflight : Nat := 0
  closing : Bool := false
  /-- Resolved by the last operation to complete once `close` waits for it. -/
  drained : Option (Promise Unit) := none

/-- A file descriptor whose operations run on fibers, closed once, after its last operation. -/
structure Fd where
  fd : Int
  /-- What errors call it: the path of a file, the address of a socket. -/
  name : String
  /-- Whether `close` closes the descriptor itself (not for the standard streams). -/
  owned : Bool
  state : IO.Ref FdState
  /-- The cancellation flag its operations carry; `close` sets it. -/
  closeFlag : IO.Ref (Option IO.Error)

/-- Write every byte of `buffer` with `op`, one write of the bytes it is given, which start
`done` bytes into the whole: the rest is resubmitted after a short write, and the buffer comes
back.  A write that moves no byte raises instead of looping. -/
partial def writeAll (op : ByteArray → Nat → Fiber (Nat × ByteArray)) (buffer : ByteArray)
    (done : Nat := 0) : Fiber ByteArray := do
  let (n, buffer) ← op buffer done
  if n < buffer.size then
    if n == 0 then throw (IO.Error.resourceExhausted none 28 "write: no byte was written")
    discard <| writeAll op (buffer.extract n buffer.size) (done + n)
  pure buffer

/-- Run `f` where nothing cancels it: clean-up that must happen even in a cancelled fiber. -/
def uncancellable (f : Fiber α) : Fiber α := fun ctx k => do
  f { ctx with cancel := ← Cancel.root (← ctx.sched.freshId) } k

namespace Fd

/-- A new `Fd` for `fd`, named `name` in errors. -/
def mk' (fd : Int) (name : String) (owned : Bool := true) : IO Fd := do
  pure { fd := fd, name := name, owned := owned, state := ← IO.mkRef {},
         closeFlag := ← IO.mkRef none }

/-- The error an operation on a closed fd raises: `EBADF`, as the system would. -/
def closedError (h : Fd) : IO.Error :=
  IO.Error.invalidArgument none 9 s!"{h.name}: the descriptor is closed"

/-- Whether `close` has begun. -/
def isClosed (h : Fd) : IO Bool := do
  pure (← h.state.get).closing

private def finished (h : Fd) : IO (Option (Promise Unit)) :=
  h.state.modifyGet fun st =>
    let n := st.inflight - 1
    if n == 0 && st.closing then (st.drained, { st with inflight := 0, drained := none })
    else (none, { st with inflight := n })

/-- Run `op` (which uses `h.fd`) as one operation of `h`: refused once `close` has begun, and
cancelled by `close` while in flight.  An operation that `close` cancelled raises the fd's
`closedError`. -/
def use (h : Fd) (op : Fiber α) : Fiber α := fun ctx k => do
  let st ← h.state.get
  if st.closing then
    k (Except.error h.closedError)
    return
  h.state.set { st with inflight := st.inflight + 1 }
  let cancel : Cancel :=
    { ctx.cancel with chain := ctx.cancel.chain.push h.closeFlag, id := ← ctx.sched.freshId }
  op { ctx with cancel := cancel } fun r => do
    if let some p ← h.finished then
      discard <| p.tryResolve () { ctx with cancel := ← Cancel.root (← ctx.sched.freshId) } fun _ => pure ()
    match r with
    | Except.error e =>
      if e.isCancelled && (← ctx.cancel.cancelled?).isNone && (← h.closeFlag.get).isSome then
        k (Except.error h.closedError)
      else k (Except.error e)
    | ok => k ok

/-- Close `h`: refuse new operations, cancel those in flight and wait for their completions,
then close the descriptor (through the ring).  Closing again does nothing.  Not cancellable:
a cancelled fiber still closes what it owns. -/
def close (h : Fd) : Fiber Unit := uncancellable fun ctx k => do
  let st ← h.state.get
  if st.closing then
    k (Except.ok ())
    return
  let body : Fiber Unit := do
    if st.inflight > 0 then
      let p ← Promise.create
      h.state.set { st with closing := true, drained := some p }
      let flag : Cancel := { reason := h.closeFlag, chain := #[h.closeFlag], id := ← ctx.sched.freshId }
      ctx.sched.cancel flag (IO.Error.cancelled s!"{h.name} was closed")
      p.await
    else
      h.state.set { st with closing := true }
    if h.owned then
      Fiber.close h.fd
  body ctx k

/-- Close `h` with a blocking `close(2)`, outside any scheduler (nothing of it is in flight
there); closing again does nothing. -/
def closeBlocking (h : Fd) : IO Unit := do
  let st ← h.state.get
  unless st.closing do
    h.state.set { st with closing := true }
    if h.owned then IO.Net.Sys.close h.fd

/-- Close `h` when `sw` finishes (if it is still open then). -/
def closeOn (h : Fd) (sw : Switch) : Fiber Unit :=
  sw.onRelease h.close

end Fd

end Fiber
end IO
