/*
 * emu.h - io_uring's batch semantics without a ring: SQEs carried out by syscalls and poll(2).
 *
 * The slot table (slots.h) runs a fiber scheduler's operations on this thread's ring.  Under
 * the POSIX backend there is no ring, yet the same scheduler must run unchanged, so the table
 * can hand the very SQEs the Lean glue builds (lean_ring.cpp) to this emulation instead, and
 * gets back CQEs with the results the kernel would have given: the caller cannot tell the two
 * engines apart except by timing and by the few differences listed at the end.
 *
 * Protocol.  lu_emu_submit copies an SQE and queues it; nothing runs yet, as nothing reaches
 * the kernel before the driver's next enter.  lu_emu_reap is that enter: it first runs every
 * queued operation in submission order, then every waiting operation whose fd has become
 * ready (one poll(2), timeout 0, over all of them), then every expired timer; with `block`
 * and nothing completed yet, it sleeps in one poll(2) over every waiting fd until the nearest
 * timer's deadline and runs what became ready.  CQEs are delivered in the order the
 * operations ended.  Everything happens on the calling thread; an emulation belongs to one
 * thread, as a ring does (single issuer).
 *
 * What runs when, and why it never blocks the thread where the kernel would not:
 *  - an operation on a regular file, directory or block device (ops.h: the files that never
 *    wait for readiness), and openat, statx, close, fsync, mkdirat, unlinkat, renameat,
 *    shutdown, nop, is its syscall, made at the next reap, synchronously: the kernel would do
 *    the same work inline or in io-wq;
 *  - an operation that may wait (on a pipe, FIFO, socket, terminal or character device) is
 *    first tried without blocking (RWF_NOWAIT for read/write, MSG_DONTWAIT for recv/send,
 *    SPLICE_F_NONBLOCK, O_NONBLOCK set around connect); -EAGAIN makes it wait for its fd's
 *    readiness (POLLIN or POLLOUT) and try again, so -EAGAIN reaches a CQE only where the
 *    kernel would deliver it too: the caller's own MSG_DONTWAIT, RWF_NOWAIT or
 *    SPLICE_F_NONBLOCK.  Where no non-blocking form exists (accept; read/write on an fd
 *    without FMODE_NOWAIT, i.e. FIFOs, terminals, pipes after a splice(2)), the operation
 *    polls its fd with timeout 0 right before the blocking syscall and makes it only if ready;
 *  - like the ring, the emulation ignores an fd's O_NONBLOCK flag (a read on an empty
 *    O_NONBLOCK pipe waits), and it never changes that flag for longer than one connect(2);
 *  - a timeout is armed when it runs (the reap after its submission, as the kernel arms it at
 *    the enter) on CLOCK_MONOTONIC and completes with -ETIME; equal deadlines expire in
 *    submission order;
 *  - an ASYNC_CANCEL finds its target by user_data among the waiting operations and timers:
 *    found, the cancel completes with 0 and then the target with -ECANCELED (the kernel's
 *    order: the target's CQE is posted from task work, after the cancel's); not found (never
 *    submitted, or already run: a completed operation is no longer in flight), -ENOENT;
 *  - multishot: IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT in ioprio accepts on every
 *    readiness, one IORING_CQE_F_MORE CQE per connection, until an error or a cancel ends it;
 *    IORING_OP_RECV with IOSQE_BUFFER_SELECT takes its buffer from the group registered with
 *    lu_emu_register_pbuf (pbuf.h), with the kernel's ids and order (the ring's head is kept
 *    here, its tail read with acquire); with IORING_RECV_MULTISHOT it goes on, one F_MORE CQE
 *    per buffer, and a group with no buffer left ends it with a final -ENOBUFS;
 *  - CQE flags are the kernel's: IORING_CQE_F_SOCK_NONEMPTY on an accept that leaves another
 *    connection queued, and on a recv from a stream socket that leaves bytes behind (or, on
 *    TCP, that follows the peer's FIN: Linux 6.18's inq hint is 1 then), 0 otherwise.
 *
 * Remaining races.  poll(2) says an fd was ready, not that it still is: when another process
 * or thread reads the same blocking FIFO, terminal or listening socket (or a pipe that has
 * lost FMODE_NOWAIT) between the poll and the syscall, the syscall blocks the thread until
 * more data (or a connection) arrives.  io_uring's own poll-then-issue path for such files has
 * the same window.  A write of more than the device can take at once to a terminal or
 * character device without FMODE_NOWAIT blocks until it has taken everything (a FIFO write in
 * that case is cut to PIPE_BUF bytes, which fit, instead); connect's O_NONBLOCK is visible to
 * other users of the open file description while the connect(2) runs.
 *
 * Differences from the kernel's io_uring (each where the emulation cannot or need not match):
 *  - opcodes other than NOP, READ, WRITE, OPENAT, CLOSE, STATX, FSYNC, MKDIRAT, UNLINKAT,
 *    RENAMEAT, ACCEPT, CONNECT, RECV, SEND, SHUTDOWN, TIMEOUT, SPLICE and ASYNC_CANCEL complete
 *    with -EINVAL (the kernel would run e.g. FALLOCATE); so do SQE flags other than
 *    IOSQE_ASYNC (links, drain, fixed files, CQE skipping; IOSQE_BUFFER_SELECT only on RECV), a NOP with
 *    nop_flags, ASYNC_CANCEL with cancel_flags, and a TIMEOUT with a completion count (off) or
 *    with flags other than IORING_TIMEOUT_ABS and IORING_TIMEOUT_ETIME_SUCCESS (its clock is
 *    always CLOCK_MONOTONIC).  An FSYNC with a range (off, len) syncs the whole file here
 *    (userspace has no ranged fsync: more than asked, never less).  Unused SQE fields are
 *    not checked (the kernel refuses some non-zero ones with -EINVAL);
 *  - a batch runs strictly in submission order here; the kernel runs some operations (SHUTDOWN,
 *    SPLICE, file writes it cannot do without blocking, openat or statx of an uncached path)
 *    on io-wq workers, where they may take effect after SQEs queued behind them (io_uring
 *    promises no order without IOSQE_IO_LINK);
 *  - a waiting operation holds its fd number, not the file: if the fd is closed meanwhile,
 *    poll reports POLLNVAL and the operation completes with -EBADF (the kernel keeps the file
 *    and the operation pending); if the number is reused, the operation acts on the new file;
 *  - an openat of a FIFO without O_NONBLOCK blocks the thread until the other end opens (the
 *    kernel blocks an io-wq worker instead);
 *  - a connect to an AF_UNIX listener whose backlog is full completes with -EAGAIN (the kernel
 *    waits until the listener accepts: no poll(2) event says when that is);
 *  - IORING_CQE_F_SOCK_NONEMPTY follows what Linux 6.18 was measured to do (above); another
 *    kernel version may set it for other protocols or cases;
 *  - a splice the kernel runs in an io-wq worker, once blocked there, answers a cancel with
 *    -EALREADY and ends with -EINTR (or ERESTARTSYS, 512, on Linux 6.18); the emulation's
 *    waiting splice is cancelled like any waiting operation.  A splice with SPLICE_F_NONBLOCK
 *    from an empty blocking AF_UNIX socket waits for data here and fails with -EAGAIN there
 *    (the emulation polls a blocking socket end first, because a TCP socket would block
 *    splice(2) even with SPLICE_F_NONBLOCK);
 *  - a multishot recv's F_MORE CQEs carry no IORING_CQE_F_SOCK_NONEMPTY; recv's ioprio takes
 *    IORING_RECV_MULTISHOT only (no POLL_FIRST, no bundles), accept's IORING_ACCEPT_MULTISHOT
 *    only;
 *  - SQE pointers (buffers, paths, the timespec) are the caller's memory in both; a bad
 *    pointer is -EFAULT from a syscall, but the timespec is read by the emulation itself
 *    (only NULL gives -EFAULT; another bad address is a crash).
 */
#ifndef LU_EMU_H
#define LU_EMU_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lu_emu;

/* A new emulation with nothing in flight, or NULL (out of memory). */
struct lu_emu *lu_emu_new(void);
/* Free `e` and any operation still in it, without CQEs: call lu_emu_cancel_all first. */
void lu_emu_free(struct lu_emu *e);

/*
 * Queue a copy of `sqe` (its user_data comes back in the CQE).  Returns 0, or -ENOMEM; once
 * queued, an operation always ends with exactly one final CQE (reaping never allocates for
 * it; only the F_MORE CQEs of a multishot operation may wait for memory).
 */
int lu_emu_submit(struct lu_emu *e, const struct io_uring_sqe *sqe);

/*
 * A CQE as the emulation delivers it.  The callback may submit more operations (they run at
 * the next reap), and may reap again; it must not free `e`.
 */
typedef void lu_emu_cqe_fn(void *ctx, const struct io_uring_cqe *cqe);

/*
 * Run what can run (see above) and deliver the CQEs to `fn`; with `block`, wait until at
 * least one is delivered, unless nothing is in flight.  Returns how many were delivered, or
 * -errno if poll(2) failed before any was (e.g. -ENOMEM; nothing is lost, reap again).
 */
int lu_emu_reap(struct lu_emu *e, bool block, lu_emu_cqe_fn *fn, void *ctx);

/* Operations submitted whose final CQE has not been delivered yet. */
unsigned lu_emu_inflight(const struct lu_emu *e);

/*
 * What IORING_REGISTER_PBUF_RING and its unregister do to a ring: buffer group `bgid` is the
 * caller's `br` of `entries` (a power of two) entries, which must outlive the registration.
 * 0, or -EEXIST (registered already), -ENOMEM; unregister: 0 or -ENOENT.
 */
int lu_emu_register_pbuf(struct lu_emu *e, uint16_t bgid, struct io_uring_buf_ring *br,
			 unsigned entries);
int lu_emu_unregister_pbuf(struct lu_emu *e, uint16_t bgid);

/*
 * Teardown: run the queued operations (the kernel would take those SQEs before a teardown's
 * cancels reach it), then end every operation still waiting, timers included, with
 * -ECANCELED, delivering all of it to `fn`.  Afterwards nothing is in flight.
 */
void lu_emu_cancel_all(struct lu_emu *e, lu_emu_cqe_fn *fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
