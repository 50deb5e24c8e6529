/*
 * slots.h - what the kernel holds while a batch operation is in flight, per thread.
 *
 * A caller above the driver (the Lean ring API) hands each operation's memory to a slot: up to
 * two opaque owners (e.g. a buffer object and a path object) and a small scratch area at a
 * stable address (a timespec, a socket address).  The slot keeps them until the operation's
 * final CQE, so the kernel never touches freed or reused memory whatever the caller does:
 * forgets the operation, cancels it, or exits its thread with it in flight.
 *
 * The user_data the kernel sees is `gen << 32 | index` (top bit clear: it is the driver's).
 * A slot's generation changes each time it is reused, so a stale CQE (one whose operation is
 * long gone) is recognised and ignored instead of completing the slot's new operation.  The
 * caller's own 64-bit user_data is kept in the slot and given back with the completion.
 *
 * The table never looks inside an owner: it stores a pointer and, where a completion cannot be
 * delivered (thread exit), calls the table's release function on it, exactly once.  A
 * delivered completion passes its owners to the caller instead.
 *
 * One slot may deliver many completions.  A CQE with IORING_CQE_F_MORE (a multishot accept or
 * recv, the first CQE of a zero-copy send) is delivered and the slot stays in flight, its
 * owners with the table; the final CQE (no F_MORE: the multishot's end, a cancel's -ECANCELED,
 * the send's IORING_CQE_F_NOTIF) frees the slot and hands the owners over.  LU_SLOT_FD_RESULT
 * holds per CQE: each accepted fd that cannot be delivered is closed.
 *
 * Multishot accept is IORING_ACCEPT_MULTISHOT in the SQE's ioprio (Linux 5.19); the probe
 * cannot tell whether the kernel knows it, and an older kernel ends it at once with -EINVAL
 * (a final CQE).  The table does not retry: the caller falls back to single-shot accepts.
 *
 * One table per thread, like the driver's ring (driver.h): every function below acts on the
 * calling thread's table and ring.  All return a count or 0 on success and -errno on failure.
 *
 * Two engines carry the operations out, with the same results, so that one scheduler runs on
 * either backend: this thread's io_uring, or, under the POSIX backend where there is no ring,
 * an emulation of it by syscalls and poll(2) (emu.h) that takes the very same SQEs.  Slots,
 * tags, owners, cancellation and teardown are the table's and do not depend on the engine.
 */
#ifndef LU_SLOTS_H
#define LU_SLOTS_H

#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lu_emu;

/* The operation's result (>= 0) is a new fd: closed if the completion cannot be delivered. */
#define LU_SLOT_FD_RESULT 0x1u

#define LU_SLOT_OWNERS 2

/* Memory the kernel may read or write until the final CQE, at an address that never moves. */
union lu_slot_scratch {
	struct __kernel_timespec ts;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

typedef void lu_slot_release_fn(void *owner);

/*
 * A completion as the table delivers it.  A final one (no IORING_CQE_F_MORE in flags) gives
 * the owners to the receiver; before it, they are only lent for the call.
 */
struct lu_slot_cqe {
	uint64_t user_data;        /* the caller's, as given to lu_slots_prepare */
	int32_t res;
	uint32_t flags;            /* the CQE's flags */
	uint32_t kind;             /* the caller's, as given to lu_slots_prepare */
	void *owner[LU_SLOT_OWNERS];
	union lu_slot_scratch *scratch;  /* valid only during the delivery call */
};

typedef void lu_slot_deliver_fn(void *ctx, const struct lu_slot_cqe *c);

struct lu_slots;

/* How a table carries out its operations. */
enum lu_slots_engine {
	LU_SLOTS_RING,      /* this thread's io_uring (driver.h) */
	LU_SLOTS_EMULATED,  /* syscalls and poll(2) (emu.h): fibers under the posix backend */
};

/*
 * This thread's table, created on first use with `release` and `engine` (later calls ignore
 * both and return the existing table: check lu_slots_engine_of).  NULL and *err = -errno if it
 * cannot be made, or, for LU_SLOTS_RING, if the thread's ring cannot be; an emulated table
 * never makes a ring.  The table is torn down at thread exit, or by lu_slots_release.
 */
struct lu_slots *lu_slots_get(lu_slot_release_fn *release, enum lu_slots_engine engine,
			      int *err);
enum lu_slots_engine lu_slots_engine_of(const struct lu_slots *t);
/* This thread's table if it has one, else NULL (nothing is created). */
struct lu_slots *lu_slots_current(void);
/* A number that identifies this table among all tables the process ever made. */
uint64_t lu_slots_serial(const struct lu_slots *t);

/*
 * Teardown, as at thread exit: cancel this thread's ring operations, wait for every final CQE,
 * and release each undelivered slot's owners (closing fds that an operation opened).  If the
 * ring stops answering (the kernel dropped CQEs), the owners of operations whose end cannot be
 * known are leaked, never released early.  The emulation runs what was submitted and not yet
 * run, as the kernel would, and ends every waiting operation with -ECANCELED.
 */
void lu_slots_release(void);

/*
 * A slot for the next operation: `user_data` and `kind` come back with its completion, `flags`
 * are LU_SLOT_*.  Fill the slot's owners and scratch through the returned pointers, build the
 * SQE (its user_data is set by lu_slots_submit), then submit.  Returns the slot index >= 0.
 */
int lu_slots_prepare(struct lu_slots *t, uint64_t user_data, uint32_t kind, unsigned flags);
void **lu_slots_owners(struct lu_slots *t, int slot);
union lu_slot_scratch *lu_slots_scratch(struct lu_slots *t, int slot);
/*
 * Queue `sqe` for the prepared slot (lu_submit, or lu_emu_submit).  On failure the slot is
 * freed and its owners are back with the caller, unreleased.
 */
int lu_slots_submit(struct lu_slots *t, int slot, struct io_uring_sqe *sqe);

/*
 * Queue an IORING_OP_ASYNC_CANCEL, itself an operation with `user_data`, for the in-flight
 * operation submitted with user_data `target` (one of them, if several: keep user_data unique
 * among operations in flight to cancel a given one).  If there is none, the
 * cancel still completes, with -ENOENT.  The target completes as usual: with -ECANCELED, or its
 * real result if it ended first; either way its owners are delivered with it.
 */
int lu_slots_cancel(struct lu_slots *t, uint64_t target, uint64_t user_data);

/*
 * Submit everything queued and deliver completions to `deliver`, in the order they were
 * reaped: with `block`, wait until at least one is delivered (unless nothing is in flight);
 * in any case deliver every completion that is ready.  Returns how many were delivered.
 */
int lu_slots_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx);

/* Operations submitted whose final completion is not delivered yet. */
unsigned lu_slots_inflight(const struct lu_slots *t);
/* This table's emulation (LU_SLOTS_EMULATED), NULL on the ring: for pbuf.h. */
struct lu_emu *lu_slots_emu(const struct lu_slots *t);
/* CQEs ignored because their slot was free or of another generation. */
uint64_t lu_slots_stale(const struct lu_slots *t);
/* The user_data the kernel sees for a prepared or in-flight slot. */
uint64_t lu_slots_tag(const struct lu_slots *t, int slot);

#ifdef __cplusplus
}
#endif
#endif
