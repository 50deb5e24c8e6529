/*
 * ops_impl.h - private to the operations layer: the per-file halves that ops.c assembles into
 * lu_uring_ops and lu_posix_ops.  Only the operation files include it.
 */
#ifndef LU_OPS_IMPL_H
#define LU_OPS_IMPL_H

#include "driver.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>

/*
 * The SQE's len field is 32 bits, so one transfer is capped; 1 GiB keeps every result inside
 * an int (lu_run's return type) and is below Linux's own cap (MAX_RW_COUNT, 2 GiB - 4 KiB).
 * Both backends clamp identically, so a caller sees the same short transfer under either.
 */
#define LU_OP_MAX_LEN ((size_t)1 << 30)

/*
 * The POSIX twins' contract in one place: retry the syscall while a signal interrupts it (the
 * ring path waits through EINTR too, so both backends agree), then turn -1/errno into -errno.
 */
#define LU_RETRY_EINTR(call)                                            \
	({                                                              \
		long lu_r_;                                             \
		do                                                      \
			lu_r_ = (long)(call);                           \
		while (lu_r_ < 0 && errno == EINTR);                    \
		lu_r_ < 0 ? (long)-errno : lu_r_;                       \
	})

static inline unsigned lu_op_len(size_t len)
{
	return (unsigned)(len < LU_OP_MAX_LEN ? len : LU_OP_MAX_LEN);
}

/*
 * The ring ignores O_NONBLOCK for reads, writes, accept and connect: it waits for readiness
 * where the syscall returns EAGAIN or EINPROGRESS.  An operation on such an fd never waits, so
 * the ring has nothing to offer it, and the ring forms hand it to the POSIX twin: 1 if `fd` is
 * nonblocking, 0 if not, -EBADF if it is not open.
 */
static inline int lu_fd_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -errno : (fl & O_NONBLOCK) != 0;
}

/* An SQE for the synchronous path: everything the op does not set is zero. */
static inline struct io_uring_sqe lu_sqe(unsigned opcode, int fd)
{
	struct io_uring_sqe sqe;

	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = (unsigned char)opcode;
	sqe.fd = fd;
	return sqe;
}

/* fileops.c */
int lu_uring_openat(int dirfd, const char *path, int flags, mode_t mode);
int lu_uring_close(int fd);
ssize_t lu_uring_read(int fd, void *buf, size_t len);
ssize_t lu_uring_write(int fd, const void *buf, size_t len);
ssize_t lu_uring_pread(int fd, void *buf, size_t len, off_t off);
ssize_t lu_uring_pwrite(int fd, const void *buf, size_t len, off_t off);
int lu_uring_fsync(int fd);
int lu_uring_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
int lu_uring_unlinkat(int dirfd, const char *path, int flags);
int lu_uring_mkdirat(int dirfd, const char *path, mode_t mode);
int lu_uring_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		      unsigned flags);
ssize_t lu_uring_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
			unsigned flags);

int lu_posix_openat(int dirfd, const char *path, int flags, mode_t mode);
int lu_posix_close(int fd);
ssize_t lu_posix_read(int fd, void *buf, size_t len);
ssize_t lu_posix_write(int fd, const void *buf, size_t len);
ssize_t lu_posix_pread(int fd, void *buf, size_t len, off_t off);
ssize_t lu_posix_pwrite(int fd, const void *buf, size_t len, off_t off);
int lu_posix_fsync(int fd);
int lu_posix_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
int lu_posix_unlinkat(int dirfd, const char *path, int flags);
int lu_posix_mkdirat(int dirfd, const char *path, mode_t mode);
int lu_posix_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		      unsigned flags);
ssize_t lu_posix_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
			unsigned flags);

/* sockops.c */
int lu_uring_socket(int domain, int type, int protocol);
int lu_uring_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int lu_uring_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t lu_uring_recv(int fd, void *buf, size_t len, int flags);
ssize_t lu_uring_send(int fd, const void *buf, size_t len, int flags);
int lu_uring_shutdown(int fd, int how);

int lu_posix_socket(int domain, int type, int protocol);
int lu_posix_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int lu_posix_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t lu_posix_recv(int fd, void *buf, size_t len, int flags);
ssize_t lu_posix_send(int fd, const void *buf, size_t len, int flags);
int lu_posix_shutdown(int fd, int how);

/* timeops.c */
int lu_uring_sleep_ns(uint64_t ns);
int lu_posix_sleep_ns(uint64_t ns);

#endif
