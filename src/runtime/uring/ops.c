/*
 * ops.c - the two operation tables, the backend's choice between them, and the loops that
 * turn short transfers into whole ones.
 */
#include "backend.h"
#include "ops_impl.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

const struct lu_ops lu_uring_ops = {
	.name = "uring",
	.openat = lu_uring_openat,
	.close = lu_uring_close,
	.read = lu_uring_read,
	.write = lu_uring_write,
	.pread = lu_uring_pread,
	.pwrite = lu_uring_pwrite,
	.fsync = lu_uring_fsync,
	.statx = lu_uring_statx,
	.unlinkat = lu_uring_unlinkat,
	.mkdirat = lu_uring_mkdirat,
	.renameat = lu_uring_renameat,
	.socket = lu_uring_socket,
	.accept = lu_uring_accept,
	.connect = lu_uring_connect,
	.recv = lu_uring_recv,
	.send = lu_uring_send,
	.shutdown = lu_uring_shutdown,
	.sleep_ns = lu_uring_sleep_ns,
	.splice = lu_uring_splice,
};

const struct lu_ops lu_posix_ops = {
	.name = "posix",
	.openat = lu_posix_openat,
	.close = lu_posix_close,
	.read = lu_posix_read,
	.write = lu_posix_write,
	.pread = lu_posix_pread,
	.pwrite = lu_posix_pwrite,
	.fsync = lu_posix_fsync,
	.statx = lu_posix_statx,
	.unlinkat = lu_posix_unlinkat,
	.mkdirat = lu_posix_mkdirat,
	.renameat = lu_posix_renameat,
	.socket = lu_posix_socket,
	.accept = lu_posix_accept,
	.connect = lu_posix_connect,
	.recv = lu_posix_recv,
	.send = lu_posix_send,
	.shutdown = lu_posix_shutdown,
	.sleep_ns = lu_posix_sleep_ns,
	.splice = lu_posix_splice,
};

/*
 * Under `auto`, a thread that cannot get a ring (EMFILE, ENOMEM, a memcg limit, a seccomp
 * filter installed after startup) does its IO through the POSIX twins for the rest of its
 * life, and the process says so on stderr, once.  Under a forced `uring` the thread keeps the
 * ring table: every operation tries to make the ring again and fails with the reason.
 */
static _Thread_local bool thread_on_posix;
static atomic_flag fallback_announced = ATOMIC_FLAG_INIT;

static void announce_fallback(int err)
{
	char e[96];

	if (atomic_flag_test_and_set(&fallback_announced))
		return;
	lu_describe_errno(e, sizeof(e), -err);
	dprintf(STDERR_FILENO,
		"lean: a thread cannot set up its io_uring (%s); its IO uses posix "
		"(LEAN_IO_BACKEND=auto)\n", e);
}

const struct lu_ops *lu_ops(void)
{
	int err;

	if (!lu_backend_is_uring() || thread_on_posix)
		return &lu_posix_ops;
	if (lu_driver_get(&err) || lu_backend_is_forced())
		return &lu_uring_ops;
	thread_on_posix = true;
	announce_fallback(err);
	return &lu_posix_ops;
}

int lu_ops_unavailable(void)
{
	return lu_backend_is_uring() && lu_backend_is_forced() ? lu_driver_setup_error() : 0;
}

ssize_t lu_read_full(const struct lu_ops *ops, int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		char *p = (char *)buf + done;
		ssize_t n = off < 0 ? ops->read(fd, p, len - done)
				    : ops->pread(fd, p, len - done, off + (off_t)done);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * A write that makes no progress and reports no error would loop forever; POSIX leaves that
 * case undefined for regular files, so it is reported as the I/O error it is.
 */
ssize_t lu_write_all(const struct lu_ops *ops, int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		const char *p = (const char *)buf + done;
		ssize_t n = off < 0 ? ops->write(fd, p, len - done)
				    : ops->pwrite(fd, p, len - done, off + (off_t)done);
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}
