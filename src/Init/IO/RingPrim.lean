/-
The primitives of `IO.Ring` (lean-uring): the ring type, the completion type and every extern.
Import `Init.IO.Ring`, which documents the API; this module is apart because `lean --run` links
it into the `lean` executable (for the externs' wrappers) without initializing it, so it must
hold no constant whose value needs a module initializer: those are in `Init.IO.Ring`, which the
interpreter evaluates from its IR.
-/
prelude
import Init.System.IO

namespace IO

constant RingPointed : PointedType.{0}

/-- The calling thread's io_uring, as `IO.Ring.current` gives it. -/
def Ring : Type := RingPointed.type

instance : Nonempty Ring := ⟨RingPointed.val⟩

namespace Ring

/-- What `statx` finds: the portable `IO.FS.Metadata` and the POSIX fields a copy of a file tree
needs.  (The scalars are declared largest first, the order of their layout in the object.) -/
structure Stat where
  metadata : IO.FS.Metadata
  /-- The inode number (`stx_ino`). -/
  ino : UInt64
  /-- `stx_mode`: the file type bits (`S_IFMT`) and the permission bits. -/
  mode : UInt32
  /-- The number of hard links. -/
  nlink : UInt32

/-- What an operation held while in flight, given back with its completion: `none` (no buffer,
or a path or address of no further use), `buffer b` (the buffer moved into `read`, `readAt` or
`recv`, grown by the bytes read, or into `write`, `writeAt` or `send`, unchanged), or
`stat s` (what a successful `statx` found). -/
inductive Held where
  | none
  | buffer (b : ByteArray)
  | stat (s : Stat)

/-- A completion: what the kernel returned for one submission. -/
structure Cqe where
  /-- The `userData` given to the submission. -/
  userData : UInt64
  /-- The operation's result: a count, an fd (`openAt`, `accept`), `0`, or a negative errno. -/
  res : Int
  /-- The kernel's CQE flags (`IORING_CQE_F_*`). -/
  flags : UInt32
  /-- What the operation held, handed back. -/
  held : Held

/-- The calling thread's ring, created at its first use.  Fails under the posix backend, and
when this thread cannot set up a ring. -/
@[extern "lean_io_ring_current"] constant current : IO Ring

/-- The calling thread's ring for a fiber scheduler (`Fiber.run`), marked as taken until
`endScheduler`: the io_uring under the uring backend, else an emulation of it by syscalls and
`poll(2)` that runs the same operations with the same results.  Fails if a scheduler already
runs on this thread, or under `LEAN_IO_BACKEND=uring` when the thread cannot set up a ring. -/
@[extern "lean_io_ring_for_scheduler"] constant forScheduler : IO Ring

/-- Give back the ring `forScheduler` took. -/
@[extern "lean_io_ring_end_scheduler"] constant endScheduler (r : @& Ring) : IO Unit

/-- Queue a no-op. -/
@[extern "lean_io_ring_nop"] constant nop (r : @& Ring) (userData : UInt64) : IO Unit

/-- Queue a read at `fd`'s position into `buffer`'s spare capacity (at most 1 GiB). -/
@[extern "lean_io_ring_read"]
constant read (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (userData : UInt64) : IO Unit

/-- Queue a read at `offset` into `buffer`'s spare capacity; `fd`'s position does not move. -/
@[extern "lean_io_ring_read_at"]
constant readAt (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (offset : UInt64)
  (userData : UInt64) : IO Unit

/-- Queue a write of all of `buffer` at `fd`'s position (a short write is a result). -/
@[extern "lean_io_ring_write"]
constant write (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (userData : UInt64) : IO Unit

/-- Queue a write of all of `buffer` at `offset`; `fd`'s position does not move. -/
@[extern "lean_io_ring_write_at"]
constant writeAt (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (offset : UInt64)
  (userData : UInt64) : IO Unit

/-- Queue an `openat(dirfd, path, flags, mode)`; the result is the new fd.  If the completion is
never waited for, the runtime closes that fd when the thread ends. -/
@[extern "lean_io_ring_open_at"]
constant openAt (r : @& Ring) (dirfd : @& Int) (path : @& String) (flags mode : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue a `close(fd)`. -/
@[extern "lean_io_ring_close"]
constant close (r : @& Ring) (fd : @& Int) (userData : UInt64) : IO Unit

/-- Queue a `statx(dirfd, path, flags, mask)`; on success the completion holds its `metadata`. -/
@[extern "lean_io_ring_statx"]
constant statx (r : @& Ring) (dirfd : @& Int) (path : @& String) (flags mask : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue an `fsync(fd)` of the whole file, or an `fdatasync(fd)` when `datasync`. -/
@[extern "lean_io_ring_fsync"]
constant fsync (r : @& Ring) (fd : @& Int) (datasync : Bool) (userData : UInt64) : IO Unit

/-- Queue a `mkdirat(dirfd, path, mode)` (`mode` is masked by the umask). -/
@[extern "lean_io_ring_mkdir_at"]
constant mkdirAt (r : @& Ring) (dirfd : @& Int) (path : @& String) (mode : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue an `unlinkat(dirfd, path, flags)`: `flags` `0` removes a file, `AT_REMOVEDIR`
(`0x200`) an empty directory. -/
@[extern "lean_io_ring_unlink_at"]
constant unlinkAt (r : @& Ring) (dirfd : @& Int) (path : @& String) (flags : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue a `renameat2(oldDir, oldPath, newDir, newPath, flags)` (`flags` `0`: a plain
rename, replacing `newPath`). -/
@[extern "lean_io_ring_rename_at"]
constant renameAt (r : @& Ring) (oldDir : @& Int) (oldPath : @& String) (newDir : @& Int)
  (newPath : @& String) (flags : UInt32) (userData : UInt64) : IO Unit

/-- Queue an `accept4(fd, NULL, NULL, flags)`; the result is the connection's fd. -/
@[extern "lean_io_ring_accept"]
constant accept (r : @& Ring) (fd : @& Int) (flags : UInt32) (userData : UInt64) : IO Unit

/-- Queue a multishot accept on `fd` (Linux 5.19): one submission, a completion per connection,
each but the last with `IORING_CQE_F_MORE` (`cqeFMore`); a kernel without it ends it at once
with `EINVAL`. -/
@[extern "lean_io_ring_accept_multishot"]
constant acceptMultishot (r : @& Ring) (fd : @& Int) (flags : UInt32) (userData : UInt64) : IO Unit

/-- Queue a `connect` of the socket `fd` to the IPv4 address `addr` (host order, e.g.
`0x7f000001`) and `port`. -/
@[extern "lean_io_ring_connect"]
constant connect (r : @& Ring) (fd : @& Int) (addr : UInt32) (port : UInt16)
  (userData : UInt64) : IO Unit

/-- Queue a `connect` of the socket `fd` to an IPv4 (`family` 4, `addr` 4 bytes) or IPv6
(`family` 6, `addr` 16 bytes) address, in network order (`[127, 0, 0, 1]`), and `port`.  Any
other family or byte count fails with an `IO.Error` (invalid argument) and queues nothing. -/
@[extern "lean_io_ring_connect_to"]
constant connectTo (r : @& Ring) (fd : @& Int) (family : UInt8) (addr : @& ByteArray)
  (port : UInt16) (userData : UInt64) : IO Unit

/-- Queue a `recv` into `buffer`'s spare capacity (at most 1 GiB). -/
@[extern "lean_io_ring_recv"]
constant recv (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (flags : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue a multishot recv on `fd` (Linux 6.0): one submission, a completion per chunk
received, each but the last with `IORING_CQE_F_MORE` (`cqeFMore`) and holding the chunk as a
new buffer (`Held.buffer`).  The kernel picks each chunk's memory from a group of buffers the
thread keeps (`IORING_REGISTER_PBUF_RING`, 256 of 16 KiB, made at the first call); the bytes
are copied out and the memory given back at each completion.  It ends at end of stream (`0`),
on an error, with `-ENOBUFS` (`-105`) when the group ran dry (arm it again), or with `-EINVAL`
at once on a kernel without multishot recv.  Fails with an `IO.Error`, queueing nothing, on a
kernel without buffer rings (before 5.19). -/
@[extern "lean_io_ring_recv_multishot"]
constant recvMultishot (r : @& Ring) (fd : @& Int) (flags : UInt32) (userData : UInt64) : IO Unit

/-- Queue a `send` of all of `buffer`. -/
@[extern "lean_io_ring_send"]
constant send (r : @& Ring) (fd : @& Int) (buffer : ByteArray) (flags : UInt32)
  (userData : UInt64) : IO Unit

/-- Queue a `shutdown(fd, how)`. -/
@[extern "lean_io_ring_shutdown"]
constant shutdown (r : @& Ring) (fd : @& Int) (how : UInt32) (userData : UInt64) : IO Unit

/-- Queue a timer of `ns` nanoseconds; it completes with `-ETIME` (-62) when it expires. -/
@[extern "lean_io_ring_timeout"]
constant timeout (r : @& Ring) (ns : UInt64) (userData : UInt64) : IO Unit

/-- Queue a `splice` of at most `length` bytes from `fdIn` to `fdOut` (offsets `noOffset` for
pipes). -/
@[extern "lean_io_ring_splice"]
constant splice (r : @& Ring) (fdIn : @& Int) (offIn : UInt64) (fdOut : @& Int) (offOut : UInt64)
  (length flags : UInt32) (userData : UInt64) : IO Unit

/-- Queue a cancel of the operation in flight that was submitted with `userData = target` (one
of them if several: keep `userData` unique among operations in flight).
The cancel itself completes with `userData`: `0`, `-ENOENT` (nothing such in flight) or
`-EALREADY`.  The target still completes, with `-ECANCELED` or its real result, and hands its
buffer back. -/
@[extern "lean_io_ring_cancel"]
constant cancel (r : @& Ring) (target : UInt64) (userData : UInt64) : IO Unit

/-- Submit everything queued and wait until at least one completion is in; returns every
completion that is ready, in the order the kernel posted them.  Empty only when nothing is in
flight. -/
@[extern "lean_io_ring_wait"] constant wait (r : @& Ring) : IO (Array Cqe)

/-- Submit everything queued and return the completions that are ready, without waiting. -/
@[extern "lean_io_ring_poll"] constant poll (r : @& Ring) : IO (Array Cqe)

/-- `buffer` emptied but keeping its capacity, so that a loop reads into the same memory again
instead of a fresh allocation (whose pages the kernel must fault in on every read): in place
when `buffer` is not shared, else a new buffer of the same capacity. -/
@[extern "lean_io_ring_clear"]
def clear (buffer : ByteArray) : ByteArray := ByteArray.empty

/-- How many bytes `buffer` holds room for (`ByteArray.capacity`): a read fills
`[size, capacity)`. -/
@[extern "lean_io_ring_capacity"] constant capacity (buffer : @& ByteArray) : Nat

/-- Whether two byte arrays hold the same bytes (`memcmp`; the `BEq ByteArray` instance). -/
@[extern "lean_io_ring_bytes_eq"] constant bytesEq (a b : @& ByteArray) : Bool

/-- The result and the buffer, taken out of the completion (an empty buffer if it held none).
The completion is consumed, so the buffer comes out unshared: a later read into it (`clear`)
or update in place copies nothing.  (In C because only an extern's parameter is owned for
sure: Lean would infer `c` borrowed and keep the buffer shared while the caller runs on.) -/
@[extern "lean_io_ring_cqe_take"]
def Cqe.take (c : Cqe) : Int × ByteArray :=
  match c.held with
  | Held.buffer b => (c.res, b)
  | _ => (c.res, ByteArray.empty)

/-- Submissions whose completion has not been returned yet. -/
@[extern "lean_io_ring_inflight"] constant inflight (r : @& Ring) : IO Nat

/-- Register `fd` with the ring, so that its operations skip the kernel's fd lookup: whether
it is registered (false under the emulation, or when the kernel or a full table refuses; the
fd then works as before, with the same results).  A close through the ring or the runtime
ends the registration, so the fd number may be reused safely. -/
@[extern "lean_io_ring_register_file"]
constant registerFile (r : @& Ring) (fd : @& Int) : IO Bool

/-- The `IO.Error` the blocking API gives for the negative errno `res` (e.g. `-2`: no such
file, named `fname`). -/
@[extern "lean_io_ring_error_of"]
constant errorOf (res : @& Int) (fname : @& String) : IO.Error

/-- A pipe, as plain syscalls make it: `(readEnd, writeEnd)`, both close-on-exec. -/
@[extern "lean_io_ring_pipe"] constant pipe : IO (Int × Int)

/-- A TCP socket listening on `127.0.0.1:port` (`0`: any free port; see `localPort`). -/
@[extern "lean_io_ring_tcp_listen"] constant tcpListen (port : UInt16) : IO Int

/-- A new unconnected TCP socket (IPv4). -/
@[extern "lean_io_ring_tcp_socket"] constant tcpSocket : IO Int

/-- The local port a socket is bound to. -/
@[extern "lean_io_ring_local_port"] constant localPort (fd : @& Int) : IO UInt16

end Ring
end IO
