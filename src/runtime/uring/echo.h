/*
 * echo.h - the TCP echo server: every byte a client sends comes back to it, in order.
 *
 * Under io_uring (ops == &lu_uring_ops) ONE thread serves many connections at once through its
 * ring's batch path (driver.h): one accept is always pending while a slot is free, and each
 * connection cycles recv -> send of exactly what was received (a short send resubmits its
 * remainder) -> recv.  Under POSIX it is the naive blocking baseline: accept one connection,
 * echo it with blocking recv/send until it closes, then accept the next.  The two backends
 * differ in concurrency only, never in the bytes a client gets back.
 *
 * A 0-byte recv (the client shut down its side) closes the connection.  An error on a
 * connection (ECONNRESET, EPIPE, ...) closes that connection only; sends use MSG_NOSIGNAL so a
 * vanished client cannot raise SIGPIPE.  An error on the listening socket ends the serve: every
 * open connection is shut down, every operation still in flight is waited for (the kernel may
 * still write into its buffer), and the error is returned.
 *
 * Results are >= 0 or -errno; errno is not used.
 */
#ifndef LU_ECHO_H
#define LU_ECHO_H

#include <stdint.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LU_ECHO_DEFAULT_SLOTS 256
#define LU_ECHO_DEFAULT_BUF (16u * 1024)

struct lu_echo_opts {
	const struct lu_ops *ops;  /* NULL: lu_ops(), the backend's choice */
	unsigned max_connections;  /* return once this many were accepted and all closed; 0: never */
	unsigned slots;            /* connections open at once under io_uring; 0: the default */
	unsigned buf_size;         /* bytes per recv; 0: the default */
};

struct lu_echo_stats {
	uint64_t connections;      /* connections accepted */
	uint64_t bytes;            /* bytes echoed back */
	unsigned max_open;         /* most connections open at once (1 under POSIX) */
};

/*
 * Serve echo on `listen_fd`, a socket already bound and listening (blocking).  Returns 0 once
 * `max_connections` connections were accepted and have all closed, or -errno from the listening
 * socket (e.g. -EINVAL if it is not listening); -EBUSY if this thread's batch path already has
 * operations in flight.  `o` and `st` may be NULL.  `listen_fd` is not closed.
 */
int lu_echo_serve(int listen_fd, const struct lu_echo_opts *o, struct lu_echo_stats *st);

#ifdef __cplusplus
}
#endif
#endif
