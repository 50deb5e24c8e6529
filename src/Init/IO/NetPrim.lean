/-
The primitives of `IO.Net.Sys` and `IO.FS.Sys` (lean-uring): plain blocking socket and file
syscalls, under either backend, for the typed sockets and files above the fiber layer (the
file-tree calls io_uring has no opcode for are in `IO.FS.Sys`).  Fds are `Int`s, as in
`IO.Ring`; an address is a family (`4` or `6`), the address's bytes in network order (4 or 16
of them: `127.0.0.1` is `[127, 0, 0, 1]`) and a port in host order.  A syscall interrupted by
a signal is retried; a failure is the `IO.Error` the blocking API gives for its errno.
Like `Init.IO.RingPrim`, this module is linked into the `lean` executable (for the externs'
wrappers) without being initialized, so it must hold no constant whose value needs a module
initializer: only externs.
-/
prelude
import Init.System.IO

namespace IO.Net.Sys

/-- A new blocking TCP socket of `family` 4 (IPv4) or 6 (IPv6), close-on-exec. -/
@[extern "lean_io_net_socket"] constant socket (family : UInt8) : IO Int

/-- `bind` the socket `fd` to the address (port `0`: any free port; see `localAddr`).  An IPv6
socket keeps the system's `IPV6_V6ONLY` default. -/
@[extern "lean_io_net_bind"]
constant bind (fd : @& Int) (family : UInt8) (addr : @& ByteArray) (port : UInt16) : IO Unit

/-- `listen` on the bound socket `fd`, with at most `backlog` connections queued. -/
@[extern "lean_io_net_listen"] constant listen (fd : @& Int) (backlog : UInt32) : IO Unit

/-- `setsockopt(fd, level, name)` to the integer `value` (e.g. `SOL_SOCKET` = 1,
`SO_REUSEADDR` = 2). -/
@[extern "lean_io_net_set_option"]
constant setOption (fd : @& Int) (level name value : UInt32) : IO Unit

/-- The integer value of `getsockopt(fd, level, name)`. -/
@[extern "lean_io_net_get_option"]
constant getOption (fd : @& Int) (level name : UInt32) : IO UInt32

/-- The address the socket `fd` is bound to (`getsockname`): `(family, bytes, port)`. -/
@[extern "lean_io_net_local_addr"]
constant localAddr (fd : @& Int) : IO (UInt8 × ByteArray × UInt16)

/-- The address of the socket `fd`'s peer (`getpeername`): `(family, bytes, port)`. -/
@[extern "lean_io_net_peer_addr"]
constant peerAddr (fd : @& Int) : IO (UInt8 × ByteArray × UInt16)

/-- Wait for a connection on the listening socket `fd` (`accept4`, close-on-exec); its fd. -/
@[extern "lean_io_net_accept"] constant accept (fd : @& Int) : IO Int

/-- `connect` the socket `fd` to the address, waiting until it is connected or refused. -/
@[extern "lean_io_net_connect"]
constant connect (fd : @& Int) (family : UInt8) (addr : @& ByteArray) (port : UInt16) : IO Unit

/-- One `recv` into `buffer`'s spare capacity (at most 1 GiB): `buffer` longer by the bytes
received, the same length at end of stream.  A buffer with no spare capacity is returned as it
is, without a syscall (so give it some: `ByteArray.mkEmpty n`). -/
@[extern "lean_io_net_recv"]
constant recv (fd : @& Int) (buffer : ByteArray) : IO ByteArray

/-- One `send` of `buffer`'s bytes from `offset` to its end (at most 1 GiB), without `SIGPIPE`
(`MSG_NOSIGNAL`): the count sent, which may be short.  An `offset` past the end fails. -/
@[extern "lean_io_net_send"]
constant send (fd : @& Int) (buffer : @& ByteArray) (offset : @& Nat) : IO Nat

/-- `shutdown(fd, how)`: `0` stops receiving, `1` sending, `2` both. -/
@[extern "lean_io_net_shutdown"] constant shutdown (fd : @& Int) (how : UInt32) : IO Unit

/-- `close(fd)`. -/
@[extern "lean_io_net_close"] constant close (fd : @& Int) : IO Unit

/-- One `copy_file_range` of at most `len` bytes from `fdIn` at `offIn` to `fdOut` at `offOut`
(neither fd's position moves): the count copied (`0` at the end of `fdIn`), or the negative
errno as a value, not an exception, so that the caller can fall back to reading and writing on
`-18` (EXDEV), `-22` (EINVAL), `-95` (EOPNOTSUPP) or `-38` (ENOSYS). -/
@[extern "lean_io_net_copy_file_range"]
constant copyFileRange (fdIn : @& Int) (offIn : UInt64) (fdOut : @& Int) (offOut : UInt64)
  (len : UInt64) : IO Int

/-- What `fd` is: its `st_mode` (`fstat`) and its status flags (`fcntl F_GETFL`, e.g.
`O_NONBLOCK` = `0x800`). -/
@[extern "lean_io_net_fd_info"] constant fdInfo (fd : @& Int) : IO (UInt32 × UInt32)

/-- Set or clear `fd`'s `O_NONBLOCK` flag. -/
@[extern "lean_io_net_set_nonblocking"]
constant setNonblocking (fd : @& Int) (on : Bool) : IO Unit

end IO.Net.Sys

namespace IO.FS.Sys

/-- The target of the symbolic link `path` (`readlink`), whatever its length. -/
@[extern "lean_io_fs_readlink"] constant readlink (path : @& String) : IO String

/-- Create the symbolic link `path` pointing to `target` (`symlink`). -/
@[extern "lean_io_fs_symlink"] constant symlink (target path : @& String) : IO Unit

/-- Set the permission bits of `path` (`fchmodat`, following links), umask aside. -/
@[extern "lean_io_fs_chmod"] constant chmod (path : @& String) (mode : UInt32) : IO Unit

/-- Set the permission bits of the open file `fd` (`fchmod`), umask aside. -/
@[extern "lean_io_fs_fchmod"] constant fchmod (fd : @& Int) (mode : UInt32) : IO Unit

/-- The process's umask.  Reading it sets it for an instant to `0`: read it before starting
threads that create files. -/
@[extern "lean_io_fs_umask"] constant umask : IO UInt32

/-- Whether `fd` is a terminal (`isatty`). -/
@[extern "lean_io_fs_isatty"] constant isatty (fd : @& Int) : IO Bool

end IO.FS.Sys
