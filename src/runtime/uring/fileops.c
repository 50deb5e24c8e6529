/*
 * fileops.c - file, directory and pipe operations: the io_uring form and its POSIX twin.
 *
 * The two forms of each operation must agree on every result, errors included, so where the
 * ring would interpret an argument differently from the syscall (a negative offset, an offset
 * on a pipe, a flag that only means something to io_uring) the ring form rejects it the way
 * the syscall does, and where the ring would wait but the syscall would not (an O_NONBLOCK fd)
 * the ring form makes the syscall.  read/write at the current position on a file make the
 * syscall too: the ring does not take the file's f_pos lock (ops.h, lu_fd_class).
 */
#include "ops_impl.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h> /* renameat2 */
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's SPLICE_F_ALL, which it does not export. */
#define LU_SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT)

/* io_uring's "no offset": use and advance the file position, like read(2)/write(2). */
#define LU_CUR_POS ((uint64_t)-1)

static int rw(unsigned opcode, int fd, const void *buf, size_t len, uint64_t off)
{
	struct io_uring_sqe sqe = lu_sqe(opcode, fd);

	sqe.addr = (uintptr_t)buf;
	sqe.len = lu_op_len(len);
	sqe.off = off;
	return lu_run(&sqe);
}

int lu_uring_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_OPENAT, dirfd);

	sqe.addr = (uintptr_t)path;
	sqe.open_flags = (uint32_t)flags;
	sqe.len = mode;
	return lu_run(&sqe);
}

/*
 * A descriptor is released whatever became of the ring: on a thread that cannot get one (a
 * forced `uring` whose thread hit EMFILE), close(2) does it, since the alternative is a leak.
 */
int lu_uring_close(int fd)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_CLOSE, fd);

	if (!lu_driver_get(NULL))
		return lu_posix_close(fd);
	return lu_run(&sqe);
}

/*
 * The rule of ops.h: only a blocking stream goes through the ring.  A file's class is known
 * from its mode, so the F_GETFL is paid only by fds that may be streams.
 */
static bool is_file(mode_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode) || S_ISBLK(mode);
}

enum lu_fd_class lu_fd_class_of(mode_t mode, int status_flags)
{
	return is_file(mode) || (status_flags & O_NONBLOCK) ? LU_FD_SYSCALL : LU_FD_STREAM;
}

int lu_fd_class(int fd)
{
	struct stat st;
	int fl = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!is_file(st.st_mode) && (fl = fcntl(fd, F_GETFL)) < 0)
		return -errno;
	return (int)lu_fd_class_of(st.st_mode, fl);
}

/*
 * One counter per fd for lu_fd_set_nonblocking; fds beyond the table share the last one,
 * which costs their handles a needless F_GETFL at worst, never a missed change.
 */
#define LU_FD_COUNTERS 65536
static _Atomic uint32_t nonblock_changes[LU_FD_COUNTERS + 1];

static _Atomic uint32_t *changes_of(int fd)
{
	return &nonblock_changes[fd >= 0 && fd < LU_FD_COUNTERS ? fd : LU_FD_COUNTERS];
}

/*
 * Release after the F_SETFL, acquire in the reader: a handle that sees the new count also
 * sees the new flag when it asks F_GETFL.  The count moves even when the flag already had the
 * wanted value, since someone may have changed it behind the runtime's back.
 */
int lu_fd_set_nonblocking(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (want != fl && fcntl(fd, F_SETFL, want) < 0)
		return -errno;
	atomic_fetch_add_explicit(changes_of(fd), 1, memory_order_release);
	return 0;
}

uint32_t lu_fd_nonblock_changes(int fd)
{
	return atomic_load_explicit(changes_of(fd), memory_order_acquire);
}

/*
 * An fd that cannot be classified (not open: EBADF) is handed to the syscall, whose answer
 * is then the POSIX backend's by construction.
 */
ssize_t lu_uring_read(int fd, void *buf, size_t len)
{
	if (lu_fd_class(fd) != LU_FD_STREAM)
		return lu_posix_read(fd, buf, len);
	return rw(IORING_OP_READ, fd, buf, len, LU_CUR_POS);
}

ssize_t lu_uring_write(int fd, const void *buf, size_t len)
{
	if (lu_fd_class(fd) != LU_FD_STREAM)
		return lu_posix_write(fd, buf, len);
	return rw(IORING_OP_WRITE, fd, buf, len, LU_CUR_POS);
}

/* The ring forms without their classification; any other table is asked as it is. */
ssize_t lu_read_as(const struct lu_ops *ops, enum lu_fd_class cls, int fd, void *buf,
		   size_t len)
{
	if (cls == LU_FD_SYSCALL)
		return lu_posix_read(fd, buf, len);
	if (ops == &lu_uring_ops)
		return rw(IORING_OP_READ, fd, buf, len, LU_CUR_POS);
	return ops->read(fd, buf, len);
}

ssize_t lu_write_as(const struct lu_ops *ops, enum lu_fd_class cls, int fd, const void *buf,
		    size_t len)
{
	if (cls == LU_FD_SYSCALL)
		return lu_posix_write(fd, buf, len);
	if (ops == &lu_uring_ops)
		return rw(IORING_OP_WRITE, fd, buf, len, LU_CUR_POS);
	return ops->write(fd, buf, len);
}

/*
 * pread(2)/pwrite(2) fail with ESPIPE on a pipe, socket or other unseekable file, but the ring
 * silently ignores the offset of a stream file: a "pread" on an empty pipe would block, and a
 * "pwrite" would append.  One lseek(2) that moves nothing asks the kernel the same question
 * pread(2) asks (is the file seekable?) before the operation is submitted.
 */
static int positional(int fd, off_t off)
{
	if (off < 0)
		return -EINVAL; /* and to the ring, -1 would mean "the current position" */
	return lseek(fd, 0, SEEK_CUR) < 0 ? -errno : 0;
}

/*
 * A transfer of no bytes moves and waits for nothing, so the syscall answers it: its checks are
 * the whole result, and the ring skips some (a zero-length read of a directory gives 0, not
 * EISDIR; found by tests/fuzz).
 */
ssize_t lu_uring_pread(int fd, void *buf, size_t len, off_t off)
{
	if (len == 0)
		return lu_posix_pread(fd, buf, 0, off);
	int r = positional(fd, off);

	return r < 0 ? r : rw(IORING_OP_READ, fd, buf, len, (uint64_t)off);
}

ssize_t lu_uring_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (len == 0)
		return lu_posix_pwrite(fd, buf, 0, off);
	int r = positional(fd, off);

	return r < 0 ? r : rw(IORING_OP_WRITE, fd, buf, len, (uint64_t)off);
}

int lu_uring_fsync(int fd)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_FSYNC, fd);

	return lu_run(&sqe);
}

int lu_uring_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_STATX, dirfd);

	sqe.addr = (uintptr_t)path;
	sqe.statx_flags = (uint32_t)flags;
	sqe.len = mask;
	sqe.addr2 = (uintptr_t)out;
	return lu_run(&sqe);
}

int lu_uring_unlinkat(int dirfd, const char *path, int flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_UNLINKAT, dirfd);

	sqe.addr = (uintptr_t)path;
	sqe.unlink_flags = (uint32_t)flags;
	return lu_run(&sqe);
}

int lu_uring_mkdirat(int dirfd, const char *path, mode_t mode)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_MKDIRAT, dirfd);

	sqe.addr = (uintptr_t)path;
	sqe.len = mode;
	return lu_run(&sqe);
}

int lu_uring_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		      unsigned flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_RENAMEAT, olddirfd);

	sqe.addr = (uintptr_t)oldpath;
	sqe.len = (uint32_t)newdirfd;
	sqe.addr2 = (uintptr_t)newpath;
	sqe.rename_flags = flags;
	return lu_run(&sqe);
}

/*
 * splice(2) rejects an offset given for a pipe end (ESPIPE) before it checks the access modes
 * (EBADF); the ring calls the common code that checks modes first.  Only when an offset is
 * given can the orders differ, so only then is the pipe question asked up front.
 */
static int pipe_given_offset(int fd_in, int64_t off_in, int fd_out, int64_t off_out)
{
	struct stat in, out;

	if (off_in == -1 && off_out == -1)
		return 0;
	if (fstat(fd_in, &in) < 0 || fstat(fd_out, &out) < 0)
		return -errno;
	if ((off_in != -1 && S_ISFIFO(in.st_mode)) || (off_out != -1 && S_ISFIFO(out.st_mode)))
		return -ESPIPE;
	return 0;
}

/*
 * An offset of -1 means "no offset" (the fd's position, or none for a pipe) in both forms.
 * splice(2) returns 0 for a zero length before it looks at anything else, and rejects unknown
 * flags next; SPLICE_F_FD_IN_FIXED is one, though the ring would take it to mean that fd_in
 * is a registered-file index.
 */
ssize_t lu_uring_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
			unsigned flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_SPLICE, fd_out);
	int r;

	if (len == 0)
		return 0;
	if (flags & ~(unsigned)LU_SPLICE_FLAGS)
		return -EINVAL;
	r = pipe_given_offset(fd_in, off_in, fd_out, off_out);
	if (r < 0)
		return r;
	sqe.splice_fd_in = fd_in;
	sqe.splice_off_in = (uint64_t)off_in;
	sqe.off = (uint64_t)off_out;
	sqe.len = lu_op_len(len);
	sqe.splice_flags = flags;
	return lu_run(&sqe);
}

/* ---- POSIX twins: the same contract, EINTR retried ---- */

int lu_posix_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return LU_RETRY_EINTR(openat(dirfd, path, flags, mode));
}

/*
 * Linux releases the descriptor before close(2) can fail, so EINTR must not be retried (that
 * could close an fd another thread just opened); the fd is gone, which is what close promises.
 * A file registered on this thread's ring leaves the table first (files.h).
 */
int lu_posix_close(int fd)
{
	lu_forget_file(fd);
	if (close(fd) == 0 || errno == EINTR)
		return 0;
	return -errno;
}

ssize_t lu_posix_read(int fd, void *buf, size_t len)
{
	return LU_RETRY_EINTR(read(fd, buf, lu_op_len(len)));
}

ssize_t lu_posix_write(int fd, const void *buf, size_t len)
{
	return LU_RETRY_EINTR(write(fd, buf, lu_op_len(len)));
}

ssize_t lu_posix_pread(int fd, void *buf, size_t len, off_t off)
{
	return LU_RETRY_EINTR(pread(fd, buf, lu_op_len(len), off));
}

ssize_t lu_posix_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return LU_RETRY_EINTR(pwrite(fd, buf, lu_op_len(len), off));
}

int lu_posix_fsync(int fd)
{
	return LU_RETRY_EINTR(fsync(fd));
}

int lu_posix_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	return LU_RETRY_EINTR(statx(dirfd, path, flags, mask, out));
}

int lu_posix_unlinkat(int dirfd, const char *path, int flags)
{
	return LU_RETRY_EINTR(unlinkat(dirfd, path, flags));
}

int lu_posix_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return LU_RETRY_EINTR(mkdirat(dirfd, path, mode));
}

int lu_posix_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		      unsigned flags)
{
	return LU_RETRY_EINTR(renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
}

ssize_t lu_posix_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
			unsigned flags)
{
	loff_t in = off_in, out = off_out;

	return LU_RETRY_EINTR(splice(fd_in, off_in == -1 ? NULL : &in, fd_out,
				     off_out == -1 ? NULL : &out, lu_op_len(len), flags));
}
