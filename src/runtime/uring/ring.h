/*
 * ring.h - the io_uring submission/completion ring protocol, and nothing else.
 *
 * This file is the C side of the model in the Lean files under spec/Ring/; field and function
 * names follow the spec (C `sq_tail` is `sqTail` there).  The protocol, as the kernel defines it:
 *
 *   SQ  user (producer)                         kernel (consumer)
 *       writes SQE slots, then                  load-acquire  sq_tail
 *       store-release sq_tail  ---------------> reads the SQEs below it, then
 *       load-acquire  sq_head  <--------------- store-release sq_head
 *       (only then may a consumed slot be reused)
 *
 *   CQ  kernel (producer)                       user (consumer)
 *       writes CQE slots, then                  load-acquire  cq_tail
 *       store-release cq_tail  ---------------> reads the CQEs below it, then
 *       (control dependency on cq_head) <------ store-release cq_head
 *
 * Indices are free-running u32 counters; a slot is `index & mask`; the fill level is
 * `tail - head` in u32 arithmetic, which is exact because capacity is a power of two <= 2^15
 * and the fill level never exceeds it.  We always use release/acquire on the four shared
 * indices, even where the kernel only touches them inside our own io_uring_enter call: on
 * x86-64 they cost nothing, and the ring's orderings are then proved for every setup flag
 * (SQPOLL included).  The driver above is not: its NOP rewrite of an unread SQE (driver.c,
 * consumed()) assumes the kernel reads the SQ only inside io_uring_enter, so it never sets
 * SQPOLL (spec/spin/driver.pml finds the race).
 *
 * The ring is single-producer/single-consumer on the user side: exactly one thread may call
 * the functions below on a given ring (the per-thread driver guarantees it, and
 * IORING_SETUP_SINGLE_ISSUER makes the kernel enforce it).
 *
 * Every function returns 0 or a count on success and -errno on failure; errno is not used.
 */
#ifndef LU_RING_H
#define LU_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux 6.3's registration through a registered ring index; Debian 12's headers predate it. */
#ifndef IORING_REGISTER_USE_REGISTERED_RING
#define IORING_REGISTER_USE_REGISTERED_RING (1U << 31)
#endif
#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif

/* The submission queue: `sq_head`/`sq_tail` point into the shared mapping. */
struct lu_sq {
	uint32_t *sq_head;    /* kernel-written: entries below it are consumed        */
	uint32_t *sq_tail;    /* user-written: entries below it are published          */
	uint32_t *flags;      /* IORING_SQ_NEED_WAKEUP, IORING_SQ_CQ_OVERFLOW, ...     */
	uint32_t *dropped;    /* invalid sq_array entries the kernel skipped           */
	uint32_t *array;      /* sq_array: identity map slot -> SQE index              */
	struct io_uring_sqe *sqes;
	uint32_t sqe_tail;    /* user-private: next slot to hand out (spec: sqeTail)   */
	uint32_t head_seen;   /* user-private: last sq_head observed (spec: headSeen)  */
	uint32_t mask;        /* capacity - 1                                          */
	uint32_t capacity;    /* power of two                                          */
};

/* The completion queue. */
struct lu_cq {
	uint32_t *cq_head;    /* user-written: entries below it are reaped             */
	uint32_t *cq_tail;    /* kernel-written: entries below it are posted           */
	uint32_t *overflow;   /* CQEs the kernel really lost (only without NODROP/OOM) */
	struct io_uring_cqe *cqes;
	uint32_t mask;
	uint32_t capacity;
};

/*
 * User-side protocol actions, named as the spec's steps.  When `trace` is set, every action is
 * reported with the index it used (a slot index for GET_SQE/REAP, the observed or published
 * index otherwise), so tests can replay the C ring's behaviour against the Lean model.  Each
 * slot access is reported where it happens: GET_SQE when lu_ring_get_sqe takes the slot (its
 * user_data, written later by the caller, follows as FILL_SQE when the entry is published),
 * REAP when lu_ring_peek_cqe hands the CQE out (peek is idempotent: REAP may repeat an index,
 * and lu_ring_cq_advance reports every index it hands back, for CQEs read off the array).
 */
enum lu_ring_action {
	LU_U_GET_SQE,       /* uGetSqe:     index = sqeTail before (user_data: FILL_SQE)   */
	LU_U_LOAD_HEAD,     /* uLoadHead:   index = sq_head observed                       */
	LU_U_PUBLISH,       /* uPublish:    index = sq_tail stored                         */
	LU_U_LOAD_CQ_TAIL,  /* uLoadCqTail: index = cq_tail observed                       */
	LU_U_REAP,          /* uReap:       index = cq_head position, user_data read       */
	LU_U_CQ_ADVANCE,    /* uCqAdvance:  index = cq_head stored                         */
	LU_U_FILL_SQE,      /* not a step:  index = the taken SQE published, its user_data */
};
typedef void lu_ring_trace_fn(void *ctx, enum lu_ring_action action, uint32_t index,
			      uint64_t user_data);

struct lu_ring {
	int fd;               /* the ring's fd, always >= 3; -1 once registered and
				 closed (lu_ring_register_ring_fd), or for a software ring */
	int enter_fd;         /* what io_uring_enter/register take: fd, or the index   */
	uint32_t enter_flags; /* IORING_ENTER_REGISTERED_RING when enter_fd is an index */
	uint32_t setup_flags; /* the flags the kernel accepted                         */
	uint32_t features;    /* IORING_FEAT_*                                         */
	struct lu_sq sq;
	struct lu_cq cq;
	void *sq_map, *cq_map, *sqe_map;
	size_t sq_map_len, cq_map_len, sqe_map_len;
	lu_ring_trace_fn *trace;  /* NULL in production */
	void *trace_ctx;
};

/*
 * The ring's u32 state as spec/Ring/L2.lean's St sees it from the user side, for Frama-C's WP
 * (spec/wp/).  `sqHead <= sqTail <= sqeTail <= headSeen + cap` and `headSeen <= sqHead` become
 * distances from headSeen, `cqHead <= cqTail <= cqHead + cqCap` one from cq_head: in u32 they
 * are exact because no distance exceeds the capacity.  The user's private uCqHead is *cq_head
 * itself (lu_ring_cq_advance stores it at once); the kernel's side is whatever the shared words
 * hold when a function reads them.  WP checks these contracts sequentially: which values a
 * load may see, and the release/acquire orderings, are L2's and spin/ring.pml's business.
 */
/*@
  predicate lu_pow2(integer c) =
    c == 1 || c == 2 || c == 4 || c == 8 || c == 16 || c == 32 || c == 64 || c == 128 ||
    c == 256 || c == 512 || c == 1024 || c == 2048 || c == 4096 || c == 8192 || c == 16384 ||
    c == 32768 || c == 65536;

  // C's conversion to uint32_t (C11 6.3.1.3p2) on the range the ring's index arithmetic spans:
  // WP's prover library only bounds it, which leaves every wrap-around unprovable.
  axiomatic lu_u32 {
    axiom u32_low: \forall integer x; -4294967296 <= x < 0 ==> (uint32_t)x == x + 4294967296;
    axiom u32_high:
      \forall integer x; 4294967296 <= x < 8589934592 ==> (uint32_t)x == x - 4294967296;
  }

  predicate lu_sq_ok(struct lu_ring *r) =
    lu_pow2(r->sq.capacity) && r->sq.capacity <= 32768 && r->sq.mask == r->sq.capacity - 1 &&
    \valid(r->sq.sq_head) && \valid(r->sq.sq_tail) && \valid_read(r->sq.flags) &&
    \valid(r->sq.sqes + (0 .. r->sq.capacity - 1)) &&
    (uint32_t)(*r->sq.sq_head - r->sq.head_seen) <= (uint32_t)(*r->sq.sq_tail - r->sq.head_seen) &&
    (uint32_t)(*r->sq.sq_tail - r->sq.head_seen) <= (uint32_t)(r->sq.sqe_tail - r->sq.head_seen) &&
    (uint32_t)(r->sq.sqe_tail - r->sq.head_seen) <= r->sq.capacity;

  predicate lu_cq_ok(struct lu_ring *r) =
    lu_pow2(r->cq.capacity) && r->cq.mask == r->cq.capacity - 1 &&
    \valid(r->cq.cq_head) && \valid_read(r->cq.cq_tail) &&
    \valid_read(r->cq.cqes + (0 .. r->cq.capacity - 1)) &&
    (uint32_t)(*r->cq.cq_tail - *r->cq.cq_head) <= r->cq.capacity;

  // Predicates over the whole ring: WP's provers lose track of nested struct addresses.
  predicate lu_ring_ok(struct lu_ring *r) =
    \valid(r) && lu_sq_ok(r) && lu_cq_ok(r) &&
    \separated(r, r->sq.sq_head, r->sq.sq_tail, r->sq.flags, r->cq.cq_head, r->cq.cq_tail,
                r->sq.sqes + (0 .. r->sq.capacity - 1), r->cq.cqes + (0 .. r->cq.capacity - 1));

  // The slot of index x: `x & mask` is the model's `x % cap` (spec/wp/README.md).
  logic integer lu_slot(integer cap, integer x) = x % cap;
  lemma lu_slot_range: \forall integer cap, x; 0 < cap && 0 <= x ==> 0 <= lu_slot(cap, x) < cap;
*/

/*
 * Set up a ring of at least `entries` SQEs (rounded up to a power of two by the kernel).
 * `flags` are tried first; on EINVAL the ring is retried with
 * SINGLE_ISSUER|DEFER_TASKRUN dropped, then COOP_TASKRUN, then no flags at all, so callers
 * may always ask for the best set.  Maps the rings with one mmap under
 * IORING_FEAT_SINGLE_MMAP.  The ring's fd never takes 0, 1 or 2: a program started with a
 * standard descriptor closed would otherwise find its stdin or stdout to be the ring.
 */
int lu_ring_init(struct lu_ring *ring, unsigned entries, uint32_t flags);
void lu_ring_exit(struct lu_ring *ring);

/*
 * Bind the ring to the calling thread: register its fd (IORING_REGISTER_RING_FDS), so that
 * every enter skips the fd lookup, and where the kernel also registers through the index
 * (IORING_FEAT_REG_REG_RING, Linux 6.3) close the plain fd, so that the ring occupies no
 * descriptor at all.  Registered indices belong to the registering thread: only a ring that
 * one thread uses may be registered, and a forked child cannot use it.  Returns 0, or -errno
 * with the ring unchanged and usable through its fd.
 */
int lu_ring_register_ring_fd(struct lu_ring *ring);
/*
 * io_uring_register(2) through whichever of the fd and the registered index the ring uses
 * now: the syscall's result, or -errno.
 */
int lu_ring_register(const struct lu_ring *ring, unsigned opcode, void *arg, unsigned nr);
/* lu_ring_exit for a forked child's copy of its parent's ring: nothing is unregistered. */
void lu_ring_forget(struct lu_ring *ring);

/*
 * A ring whose "kernel side" is software (tests and the spec's executable twin): the shared
 * indices live in `mem`, all start at `start` (so u32 wrap-around can be exercised), and
 * nothing is ever entered.  `mem` must be 8-byte aligned and lu_ring_mem_size() bytes long.
 */
size_t lu_ring_mem_size(unsigned sq_capacity, unsigned cq_capacity);
int lu_ring_init_mem(struct lu_ring *ring, void *mem, unsigned sq_capacity, unsigned cq_capacity,
		     uint32_t start);

/* ---- submission side (spec: uGetSqe, uLoadHead, uPublish) ---- */

/* Next free SQE, zeroed, or NULL when the SQ is full (tail - head == capacity). */
/*@
  requires lu_ring_ok(ring);
  assigns ring->sq.sqe_tail, ring->sq.head_seen,
          ring->sq.sqes[ring->sq.sqe_tail % ring->sq.capacity];
  ensures lu_ring_ok(ring);
  behavior full:  // uLoadHead sq_head; the guard of uGetSqe is false even so
    assumes (uint32_t)(ring->sq.sqe_tail - *ring->sq.sq_head) == ring->sq.capacity;
    ensures \result == \null;
    ensures ring->sq.head_seen == *ring->sq.sq_head;
    ensures ring->sq.sqe_tail == \old(ring->sq.sqe_tail);
  behavior room:  // (uLoadHead sq_head)?; uGetSqe
    assumes (uint32_t)(ring->sq.sqe_tail - *ring->sq.sq_head) < ring->sq.capacity;
    ensures \result == &ring->sq.sqes[lu_slot(ring->sq.capacity, \old(ring->sq.sqe_tail))];
    ensures ring->sq.sqe_tail == (uint32_t)(\old(ring->sq.sqe_tail) + 1);
    ensures ring->sq.head_seen == \old(ring->sq.head_seen) ||
            ring->sq.head_seen == *ring->sq.sq_head;
  complete behaviors;
  disjoint behaviors;
*/
struct io_uring_sqe *lu_ring_get_sqe(struct lu_ring *ring);
/* Publish every SQE handed out so far (store-release sq_tail); returns how many are pending. */
/*@
  requires lu_ring_ok(ring);
  assigns *ring->sq.sq_tail, ring->sq.head_seen;
  ensures lu_ring_ok(ring);
  ensures *ring->sq.sq_tail == ring->sq.sqe_tail;         // uPublish
  ensures ring->sq.head_seen == *ring->sq.sq_head;        // uLoadHead sq_head
  ensures \result == (uint32_t)(ring->sq.sqe_tail - ring->sq.head_seen);
  ensures \result <= ring->sq.capacity;
*/
uint32_t lu_ring_publish_sq(struct lu_ring *ring);
/* Entries published but not yet consumed by the kernel. */
/*@
  requires lu_ring_ok(ring);
  assigns \nothing;
  ensures \result == (uint32_t)(*ring->sq.sq_tail - *ring->sq.sq_head);
  ensures \result <= ring->sq.capacity;
*/
uint32_t lu_ring_sq_pending(const struct lu_ring *ring);

/*
 * io_uring_enter: submit `to_submit`, and wait for `min_complete` CQEs when it is non-zero.
 * EINTR is returned, not retried: the driver decides.  -EBUSY/-EAGAIN mean "reap first".
 */
int lu_ring_enter(struct lu_ring *ring, unsigned to_submit, unsigned min_complete, unsigned flags);

/* ---- completion side (spec: uLoadCqTail, uReap, uCqAdvance) ---- */

/* Oldest unreaped CQE, or NULL; the CQE stays valid until lu_ring_cq_advance. */
/*@
  requires lu_ring_ok(ring);
  assigns \nothing;
  behavior empty:  // uLoadCqTail cq_tail; the guard of uReap is false
    assumes *ring->cq.cq_tail == *ring->cq.cq_head;
    ensures \result == \null;
  behavior ready:  // uLoadCqTail cq_tail; the CQE that uReap reads
    assumes *ring->cq.cq_tail != *ring->cq.cq_head;
    ensures \result == &ring->cq.cqes[lu_slot(ring->cq.capacity, *ring->cq.cq_head)];
  complete behaviors;
  disjoint behaviors;
*/
struct io_uring_cqe *lu_ring_peek_cqe(struct lu_ring *ring);
/* CQEs posted and not yet reaped. */
/*@
  requires lu_ring_ok(ring);
  assigns \nothing;
  ensures \result == (uint32_t)(*ring->cq.cq_tail - *ring->cq.cq_head);
  ensures \result <= ring->cq.capacity;
*/
uint32_t lu_ring_cq_ready(const struct lu_ring *ring);
/* Hand `n` reaped CQEs back to the kernel (store-release cq_head). */
/*@
  requires lu_ring_ok(ring);
  requires n <= (uint32_t)(*ring->cq.cq_tail - *ring->cq.cq_head);
  assigns *ring->cq.cq_head;
  ensures lu_ring_ok(ring);
  ensures *ring->cq.cq_head == (uint32_t)(\old(*ring->cq.cq_head) + n);  // uReap^n; uCqAdvance
*/
void lu_ring_cq_advance(struct lu_ring *ring, uint32_t n);
/* The kernel holds overflowed CQEs (IORING_SQ_CQ_OVERFLOW): enter with GETEVENTS to flush. */
/*@
  requires lu_ring_ok(ring);
  assigns \nothing;
  ensures \result <==> (*ring->sq.flags & IORING_SQ_CQ_OVERFLOW) != 0;
*/
bool lu_ring_cq_overflowed(const struct lu_ring *ring);

/* ---- capabilities ---- */

/* The opcodes the kernel supports, one bit each, from a single IORING_REGISTER_PROBE. */
struct lu_ring_opcodes {
	uint64_t supported[4];
};
int lu_ring_probe(struct lu_ring *ring, struct lu_ring_opcodes *out);
bool lu_ring_opcodes_has(const struct lu_ring_opcodes *probe, unsigned opcode);

#ifdef __cplusplus
}
#endif
#endif
