/*
 * ops.h - every IO operation, behind one interface with two implementations.
 *
 * `lu_uring_ops` performs each operation through this thread's ring (driver.h, synchronous
 * path); `lu_posix_ops` is its POSIX twin, with the same results.  `lu_ops()` is the one the
 * backend chose (backend.h).  All return the result (>= 0) or -errno; none touch errno.
 * EINTR from a plain syscall is retried, as the ring path does.
 *
 * read/write use the fd's current position (io_uring offset -1); pread/pwrite do not move it.
 * A short transfer is a result, not an error: lu_read_full/lu_write_all loop until done.
 * One call moves at most 1 GiB (the SQE's len is 32 bits): both backends clamp a larger len
 * the same way, so the caller sees a short transfer, never an error.
 * An O_NONBLOCK fd keeps its syscall meaning (EAGAIN, EINPROGRESS) under both backends: the ring
 * would wait for readiness instead, so the uring form makes the syscall for such an fd.
 * read/write on a regular file (or a block device or directory) are the syscall under both
 * backends too; see lu_fd_class below.
 */
#ifndef LU_OPS_H
#define LU_OPS_H

#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lu_ops {
	const char *name;
	/* files */
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*statx)(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
			unsigned flags);
	/* sockets (bind and listen are plain syscalls in both backends: lu_bind, lu_listen) */
	int (*socket)(int domain, int type, int protocol);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t addrlen);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	int (*shutdown)(int fd, int how);
	/* timers and pipes */
	int (*sleep_ns)(uint64_t ns);
	ssize_t (*splice)(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
			  unsigned flags);
};

extern const struct lu_ops lu_uring_ops;
extern const struct lu_ops lu_posix_ops;

/*
 * The operations this thread uses: POSIX under the posix backend; under uring, the ring's,
 * unless this thread cannot get a ring and the backend is `auto`, in which case POSIX (said
 * once per process on stderr).  lu_backend_init() must have succeeded, or POSIX is used.
 */
const struct lu_ops *lu_ops(void);
/*
 * Under a forced `uring`, why this thread's ring operations fail: the -errno with which its
 * ring could not be set up; 0 when it has a ring or the backend may fall back.
 */
int lu_ops_unavailable(void);

int lu_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
int lu_listen(int fd, int backlog);

/*
 * TCP addresses as the Lean API passes them: a family (4 or 6), the address's bytes in
 * network order (4 or 16 of them: 127.0.0.1 is {127, 0, 0, 1}) and a port in host order.
 */
union lu_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};
/* The sockaddr for these, and its length; -EINVAL for another family or byte count. */
int lu_sockaddr_make(union lu_sockaddr *out, unsigned family, const uint8_t *bytes, size_t n,
		     uint16_t port);
/*
 * The family (4 or 6), bytes and port of an AF_INET or AF_INET6 sockaddr of `len` bytes: the
 * byte count (4 or 16), or -EAFNOSUPPORT for any other address.
 */
int lu_sockaddr_split(const union lu_sockaddr *a, socklen_t len, uint8_t *family,
		      uint8_t bytes[16], uint16_t *port);
/* A blocking TCP socket of family 4 or 6, close-on-exec: the fd, or -errno (-EINVAL: family). */
int lu_tcp_socket(unsigned family);
/* getsockname (peer false) or getpeername (true) of `fd` into `out`: the length, or -errno. */
int lu_sock_name(int fd, bool peer, union lu_sockaddr *out);
/* Integer-valued setsockopt and getsockopt: 0 (and *value), or -errno. */
int lu_sockopt_set(int fd, int level, int name, int value);
int lu_sockopt_get(int fd, int level, int name, int *value);
/* A TCP socket listening on 127.0.0.1:port (SO_REUSEADDR, backlog SOMAXCONN): fd or -errno. */
int lu_listen_loopback(const struct lu_ops *ops, uint16_t port);

/*
 * Absorb short transfers.  lu_read_full stops early only at end of file and returns the bytes
 * read; lu_write_all returns len or -errno (bytes already written stay written).
 * off < 0 means "at the current position".
 */
ssize_t lu_read_full(const struct lu_ops *ops, int fd, void *buf, size_t len, off_t off);
ssize_t lu_write_all(const struct lu_ops *ops, int fd, const void *buf, size_t len, off_t off);

/*
 * Which path read/write at the current position take, by what the fd is.
 *
 * write(2) and read(2) take the open file's f_pos lock whenever the open file description is
 * shared and the file has FMODE_ATOMIC_POS (regular files and directories); IORING_OP_WRITE
 * and IORING_OP_READ at offset -1 do not.  Two writers on one open file, one of them on a
 * ring (`prog >log 2>&1` with stdout and stderr written by two threads, a child that
 * inherited the fd, two handles on one fd), could then start at the same offset and
 * overwrite each other.  So a regular file, directory or block device is LU_FD_SYSCALL under
 * every backend (it is also 3-5x faster: the kernel hands buffered file writes from the ring
 * to an io-wq thread), and so is an O_NONBLOCK fd (above).  Everything else, a blocking pipe,
 * terminal, socket or character device, is LU_FD_STREAM, which the uring backend moves
 * through the ring.
 */
enum lu_fd_class { LU_FD_SYSCALL, LU_FD_STREAM };

/* The class of an fd with this st_mode (fstat) and these status flags (F_GETFL). */
enum lu_fd_class lu_fd_class_of(mode_t mode, int status_flags);
/* The class of `fd` (one fstat, and one fcntl unless it is a file), or -errno. */
int lu_fd_class(int fd);

/*
 * Set or clear `fd`'s O_NONBLOCK: 0 or -errno.  The runtime changes the flag only through
 * this, so that a caller that classified the fd once (a handle) need not ask F_GETFL at every
 * operation to follow it: lu_fd_nonblock_changes(fd) moves at every call, and such a caller
 * asks again only when the count it classified at is no longer the current one.  A change
 * made behind the runtime's back (fcntl(2) by other code, a child) is not seen.
 */
int lu_fd_set_nonblocking(int fd, bool on);
uint32_t lu_fd_nonblock_changes(int fd);

/*
 * ops->read and ops->write for a caller that has classified the fd once (a buffered handle),
 * without the fstat and fcntl that lu_uring_ops' read and write make on every call to find
 * the class: LU_FD_SYSCALL is the POSIX twin whatever `ops` is, LU_FD_STREAM is `ops`'s form.
 * The class is trusted: if O_NONBLOCK is set on a stream fd later, the ring keeps waiting
 * for readiness where the syscall would fail with EAGAIN, unless the caller follows
 * lu_fd_nonblock_changes.
 */
ssize_t lu_read_as(const struct lu_ops *ops, enum lu_fd_class cls, int fd, void *buf,
		   size_t len);
ssize_t lu_write_as(const struct lu_ops *ops, enum lu_fd_class cls, int fd, const void *buf,
		    size_t len);

/*
 * SQEs for the batch path (slots.h), where one submission yields many completions.
 *
 * A multishot accept of listening socket `fd` (accept4 `flags`): one IORING_CQE_F_MORE CQE per
 * connection, its result the new fd (prepare its slot with LU_SLOT_FD_RESULT), until an error
 * or a cancel; Linux < 5.19 ends it at once with -EINVAL, and the caller accepts one at a time.
 * Either form may also end with a good result, when the kernel could not post another CQE
 * (its CQ was full): that result counts, and the caller arms the operation again.
 *
 * A multishot recv from `fd` into buffers of group `bgid` (pbuf.h): one F_MORE CQE per buffer
 * filled, with IORING_CQE_F_BUFFER and the buffer id; it ends (a final CQE) at end of file
 * (0), on an error, or with -ENOBUFS when the group has no buffer left: recycle, then submit it
 * again.  `flags` are recv's (not MSG_WAITALL).
 */
struct io_uring_sqe lu_sqe_accept_multishot(int fd, int flags);
struct io_uring_sqe lu_sqe_recv_multishot(int fd, uint16_t bgid, int flags);

#ifdef __cplusplus
}
#endif
#endif
