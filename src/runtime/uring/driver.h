/*
 * driver.h - the per-thread io_uring driver.
 *
 * Each thread that performs IO owns one ring, created lazily at its first operation and torn
 * down when the thread exits (batch operations still in flight are cancelled, and the ring goes
 * only after every one has completed, so no buffer or fd the kernel may still touch is released
 * early).  Rings are never shared between threads:
 * that is what lets them use SINGLE_ISSUER|DEFER_TASKRUN, and what keeps the ring SPSC.
 *
 * Two ways to use it:
 *  - the synchronous path, lu_run(): one operation, submitted and awaited; EINTR while
 *    waiting is retried (the operation is in the kernel and must be waited for anyway);
 *  - the batch path, lu_submit()/lu_wait(): many operations in flight, completions reaped in
 *    any order and matched by the caller's user_data.
 * Both may be mixed on one thread: completions that arrive for the batch while lu_run() waits
 * are kept for lu_wait().
 *
 * A full SQ never fails an operation: the driver flushes the SQ to the kernel and retries, and
 * if the kernel cannot take more yet (-EBUSY/-EAGAIN), it reaps completions and retries.
 * CQ overflow (IORING_SQ_CQ_OVERFLOW) is flushed with GETEVENTS; -EBADR (CQEs the kernel really
 * dropped) is reported to every waiter as -EBADR, never silently ignored.
 */
#ifndef LU_DRIVER_H
#define LU_DRIVER_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lu_driver;

/* Ring size for new per-thread drivers (tests vary it). Read at ring creation. */
#define LU_DRIVER_DEFAULT_ENTRIES 64
void lu_driver_set_entries(unsigned entries);

/*
 * This thread's driver, created on first use; NULL and *err = -errno if no ring can be made
 * (every call tries again: EMFILE or ENOMEM may pass).  The ring's fd is registered with the
 * thread and closed where the kernel allows it (Linux 6.3), so a ring costs no descriptor.
 */
struct lu_driver *lu_driver_get(int *err);
/* Tear this thread's driver down now, as thread exit would (in-flight operations drained). */
void lu_driver_release(void);
/* Why this thread has no ring: the -errno of its last failed attempt, or 0 (it has one, or
 * never tried). */
int lu_driver_setup_error(void);
/* The opcodes this thread's ring supports (one IORING_REGISTER_PROBE). */
struct lu_ring_opcodes;
int lu_driver_probe(struct lu_driver *d, struct lu_ring_opcodes *out);
/* What io_uring_setup reported of this thread's ring (IORING_FEAT_*). */
uint32_t lu_driver_features(const struct lu_driver *d);
/*
 * io_uring_register(2) on this thread's ring (IORING_REGISTER_PBUF_RING...): its result, or
 * -errno.  `arg` and `nr` are the syscall's.
 */
int lu_driver_register(struct lu_driver *d, unsigned opcode, void *arg, unsigned nr);

/*
 * Synchronous path: copy `sqe` into this thread's ring, submit it, wait for its completion and
 * return its `res` (>= 0, or -errno).  sqe->user_data is ignored (the driver tags it).  It
 * never returns while the kernel may still touch the operation's buffers: if waiting fails
 * once the kernel has the SQE (-EBADR: the kernel dropped CQEs), the operation is cancelled
 * and waited for, and the result is its own if it arrived, else the error.
 */
int lu_run(const struct io_uring_sqe *sqe);

/*
 * Batch path.  lu_submit queues `sqe` (its user_data is the caller's; values with the top bit
 * set are reserved for the driver) and returns 0 or -errno.  A multishot operation (or a
 * zero-copy send) yields several CQEs: each but the last has IORING_CQE_F_MORE, and the
 * operation stays in flight until the last.  Submission to the kernel happens
 * at the latest in the next lu_wait.  lu_wait blocks until one completion is available and
 * stores it in *cqe; it returns 0, or -errno (e.g. -ENOENT when nothing is in flight, -EBADR
 * once after the kernel dropped CQEs).  EINTR is retried, as in lu_run().
 */
int lu_submit(struct lu_driver *d, const struct io_uring_sqe *sqe);
int lu_wait(struct lu_driver *d, struct io_uring_cqe *cqe);
/* Operations submitted through lu_submit whose completions have not yet been returned. */
unsigned lu_inflight(const struct lu_driver *d);

/*
 * Registered files (files.h).  Once `fd` is registered on this thread's ring, both paths run
 * its operations on the registered file, with the same results.  lu_register_file returns 0,
 * or -errno when the kernel or the table refuses (the fd then stays plain: nothing to undo).
 * An IORING_OP_CLOSE of a registered fd clears its slot first; every other close of it on this
 * thread must call lu_forget_file(fd) before close(2).  lu_unregister_file ends a registration
 * early (-ENOENT if there was none).
 */
int lu_register_file(struct lu_driver *d, int fd);
int lu_unregister_file(struct lu_driver *d, int fd);
bool lu_file_registered(const struct lu_driver *d, int fd);
void lu_forget_file(int fd);

#ifdef __cplusplus
}
#endif
#endif
