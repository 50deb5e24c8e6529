/-
The typed low-level io_uring API (lean-uring): the calling thread's ring, one submission per
operation, and a wait that returns typed completions.  It is the layer a fiber scheduler sits
on: a submission only queues an SQE and returns nothing; `wait` submits everything queued and
returns the completions, each carrying the `userData` its submission was given.

Buffers are moved into an operation and handed back with its completion (`Cqe.held`), as in
tokio-uring's `(result, buf)`:
* an operation the kernel writes into (`read`, `readAt`, `recv`) fills the buffer's spare
  capacity `[size, capacity)` and the buffer comes back `res` bytes longer: the caller chooses
  the capacity, e.g. `ByteArray.mkEmpty 4096`.  A buffer that is shared with another Lean value
  is copied first, so no other value ever sees the kernel write;
* an operation the kernel reads from (`write`, `writeAt`, `send`) sends the whole buffer and
  hands the same buffer back; a later in-place update through an alias copies it (the in-flight
  reference keeps it shared).
The runtime keeps each operation's buffer, path and address until its final completion
(`src/runtime/uring/slots.h`), so no mistake above this layer can make the kernel touch freed
memory: not forgetting an operation, not cancelling it, not ending the thread with it in flight.

Rings are per thread (`IORING_SETUP_SINGLE_ISSUER`): a `Ring` used on another thread than the one
that called `Ring.current` fails with an `IO.Error`.  Under `LEAN_IO_BACKEND=posix`, or `auto`
after falling back, `Ring.current` fails: only this layer refuses to run without io_uring.

Field names follow the ring's model (`spec/Ring/L1.lean`): `userData`, `res`, `flags`.  Fds are
`Int`s, as in the model's `Sqe.fd`, so that an `openAt` or `accept` result is an fd as it is.
This module is imported explicitly (`import Init.IO.Ring`).
-/
prelude
import Init.IO.RingPrim

namespace IO
namespace Ring

instance : Inhabited Held := ⟨Held.none⟩

instance : Inhabited Cqe := ⟨{ userData := 0, res := 0, flags := 0, held := Held.none }⟩

/-- `IORING_CQE_F_MORE`: more completions of the same submission follow (a multishot one's). -/
def cqeFMore : UInt32 := 2

/-- The value of `AT_FDCWD`: with a relative path, `openAt` and `statx` start at the current
directory. -/
def atFdCwd : Int := -100

/-- The offset argument of `splice` for a pipe (no offset: the fd's position). -/
def noOffset : UInt64 := 0xFFFFFFFFFFFFFFFF

/-- The buffer the completion handed back, or an empty one. -/
def Cqe.buffer (c : Cqe) : ByteArray :=
  match c.held with
  | Held.buffer b => b
  | _ => ByteArray.empty

/-- The result as a count or fd, or the `IO.Error` it stands for (`fname` names the file in
errors that take a name). -/
def Cqe.check (c : Cqe) (fname : String := "") : IO Nat :=
  if c.res ≥ 0 then pure c.res.toNat else throw (errorOf c.res fname)

end Ring
end IO

namespace ByteArray

/-- How many bytes the array holds room for: a ring read fills `[size, capacity)`. -/
@[inline] def capacity (b : @& ByteArray) : Nat := IO.Ring.capacity b

instance : BEq ByteArray := ⟨IO.Ring.bytesEq⟩

end ByteArray
