/*
 * copy.h - the copy engine: one whole file into another, many operations in flight.
 *
 * Under io_uring (ops == &lu_uring_ops) the engine keeps up to `depth` reads of `block` bytes in
 * flight on this thread's ring (driver.h, batch path), and turns each completed read into a
 * write at the same offset, as liburing's io_uring-cp and ocaml-uring's urcp do; short reads
 * and writes resubmit their remainder, EINTR/EAGAIN are resubmitted, and the end of the file is
 * the first read that returns 0 bytes.  A long copy runs on registered files (driver.h), unless
 * the ring refuses them.  Under POSIX it is a plain pread/pwrite loop with one
 * buffer: a faithful baseline, not copy_file_range, so the two backends differ only in how the
 * same bytes move.
 *
 * On the first error the engine stops submitting, waits for every operation still in flight
 * (the kernel may still write into their buffers), and returns that error.  Bytes already
 * written stay written.  The source must not change during the copy; if it does, the copy is
 * some mix of its old and new contents, as with cp(1).
 *
 * Results are >= 0 or -errno; errno is not used.
 */
#ifndef LU_COPY_H
#define LU_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 8 reads of 128 KiB: 1 MiB in flight per copy.  Measured with a warm page cache (bench/copy.sh),
 * depth 8 beat 64 (169 vs 218 ms for 4 parallel 64 MiB copies): deeper queues only add buffers
 * that fall out of the CPU cache.  A cold, slow disk may want more; opts.depth sets it.
 */
#define LU_COPY_DEFAULT_DEPTH 8
#define LU_COPY_DEFAULT_BLOCK (128u * 1024)

struct lu_copy_opts {
	const struct lu_ops *ops;  /* NULL: lu_ops(), the backend's choice */
	unsigned depth;            /* reads in flight under io_uring; 0: the default */
	unsigned block;            /* bytes per operation; 0: the default */
};

/* Which file an error concerns, so that callers can name it (IO.Error's file name). */
enum lu_copy_side { LU_COPY_SRC, LU_COPY_DST };

struct lu_copy_result {
	uint64_t bytes;            /* bytes written to the destination */
	unsigned max_inflight;     /* most operations in flight at once (1 under POSIX) */
	bool registered;           /* both files were registered (driver.h) during the copy */
	enum lu_copy_side failed;  /* meaningful only when the call failed */
};

/*
 * Copy the regular file `in`, from offset 0 to its end, into `out` at the same offsets.
 * Neither fd's position is used or moved.  -EISDIR if `in` is a directory, -ESPIPE if either
 * fd is not seekable, -EBUSY if this thread's batch path already has operations in flight
 * (their completions would be mistaken for ours).  `o` and `res` may be NULL.
 */
int lu_copy_fd(int in, int out, const struct lu_copy_opts *o, struct lu_copy_result *res);

/*
 * Copy the file `src` to `dst`, which is created with mode 0666 & ~umask or truncated.  The
 * destination is not fsynced: like cp(1), the copy is durable only once the kernel writes it
 * back, and a caller that needs more calls fsync itself.  Both files are opened and closed
 * through `o->ops`.  A directory as source fails with -EISDIR, and a destination that is the
 * source itself (same path, hard or symbolic link) with -EINVAL, before `dst` is touched.
 */
int lu_copy_file(const char *src, const char *dst, const struct lu_copy_opts *o,
		 struct lu_copy_result *res);

#ifdef __cplusplus
}
#endif
#endif
