/*
 * fake_kernel.h - a software twin of the kernel side of io_uring, for rings made with
 * lu_ring_init_mem(), plus the writer for the ring trace format (spec/trace-format.md).
 *
 * Each function is one kernel step of the spec, with the kernel's orderings:
 *   kLoadTail   load-acquire sq_tail                 (io_sqring_entries)
 *   kGetSqe     read the SQE at the private head     (io_get_sqe)
 *   kCommitSq   store-release sq_head                (io_commit_sqring)
 *   kLoadCqHead load cq_head                         (io_cqe_cache_refill)
 *   kPost / kOverflow / kFlush                       (io_fill_cqe_*, NODROP overflow list)
 *   kCommitCq   store-release cq_tail                (io_commit_cqring)
 * Tests interleave these with the user-side calls of ring.h in any order, single-threaded or
 * from a second thread (the SPSC protocol allows both).
 *
 * Every SQE "executes" as a NOP whose result is its `len` field, so a test can check that a
 * result travels with its user_data.  Consumed SQEs wait in `inflight` until a test completes
 * them, in any order, as the real kernel does.
 *
 * Header-only, and C as well as C++: the CMake glob compiles only the .cc files in tests/c.  The shared
 * indices are accessed with the __atomic builtins (the C++17 tests cannot use C11 _Atomic);
 * they are the same lock-free operations ring.c performs through <stdatomic.h>.
 */
#ifndef LU_FAKE_KERNEL_H
#define LU_FAKE_KERNEL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#ifdef __cplusplus
extern "C" {
#endif

enum lu_fk_action {
	LU_K_LOAD_TAIL,     /* kLoadTail:   index = sq_tail observed                 */
	LU_K_GET_SQE,       /* kGetSqe:     index = kHead before, user_data          */
	LU_K_COMMIT_SQ,     /* kCommitSq:   index = sq_head stored                   */
	LU_K_LOAD_CQ_HEAD,  /* kLoadCqHead: index = cq_head observed                 */
	LU_K_POST,          /* kPost:       index = cq slot index, user_data, res    */
	LU_K_OVERFLOW,      /* kOverflow:   user_data, res (index unused)            */
	LU_K_FLUSH,         /* kFlush:      index = cq slot index, user_data, res    */
	LU_K_COMMIT_CQ,     /* kCommitCq:   index = cq_tail stored                   */
};
typedef void lu_fk_trace_fn(void *ctx, enum lu_fk_action action, uint32_t index,
			    uint64_t user_data, int32_t res);

struct lu_fk_cqe {
	uint64_t user_data;
	int32_t res;
};

/* A growable FIFO; `inflight` also allows removal from the middle. */
struct lu_fk_queue {
	struct lu_fk_cqe *items;
	size_t head, len, cap;
};

struct lu_fake_kernel {
	struct lu_ring *ring;
	uint32_t k_head;          /* cached_sq_head (spec: kHead)            */
	uint32_t k_tail_seen;     /* spec: kTailSeen                         */
	uint32_t k_cq_tail;       /* cached_cq_tail (spec: kCqTail)          */
	uint32_t k_cq_head_seen;  /* spec: kCqHeadSeen                       */
	struct lu_fk_queue inflight;
	struct lu_fk_queue overflow;
	lu_fk_trace_fn *trace;
	void *trace_ctx;
};

static inline void lu_fkq_push(struct lu_fk_queue *q, struct lu_fk_cqe c)
{
	if (q->head + q->len == q->cap) {
		if (q->head > 0) {
			memmove(q->items, q->items + q->head, q->len * sizeof(*q->items));
			q->head = 0;
		} else {
			q->cap = q->cap ? 2 * q->cap : 16;
			q->items = (struct lu_fk_cqe *)realloc(q->items, q->cap * sizeof(*q->items));
			if (!q->items)
				abort();
		}
	}
	q->items[q->head + q->len++] = c;
}

/* Remove and return the i-th oldest entry. */
static inline struct lu_fk_cqe lu_fkq_take(struct lu_fk_queue *q, size_t i)
{
	struct lu_fk_cqe c = q->items[q->head + i];
	if (i == 0) {
		q->head++;
	} else {
		memmove(q->items + q->head + i, q->items + q->head + i + 1,
			(q->len - i - 1) * sizeof(*q->items));
	}
	q->len--;
	return c;
}

static inline void lu_fk_init(struct lu_fake_kernel *k, struct lu_ring *ring)
{
	memset(k, 0, sizeof(*k));
	k->ring = ring;
	k->k_head = k->k_tail_seen = __atomic_load_n(ring->sq.sq_head, __ATOMIC_ACQUIRE);
	k->k_cq_tail = k->k_cq_head_seen = __atomic_load_n(ring->cq.cq_tail, __ATOMIC_ACQUIRE);
}

static inline void lu_fk_destroy(struct lu_fake_kernel *k)
{
	free(k->inflight.items);
	free(k->overflow.items);
	memset(k, 0, sizeof(*k));
}

static inline void lu_fk_trace(struct lu_fake_kernel *k, enum lu_fk_action a, uint32_t index,
			       uint64_t user_data, int32_t res)
{
	if (k->trace)
		k->trace(k->trace_ctx, a, index, user_data, res);
}

/* kLoadTail */
static inline uint32_t lu_fk_load_tail(struct lu_fake_kernel *k)
{
	k->k_tail_seen = __atomic_load_n(k->ring->sq.sq_tail, __ATOMIC_ACQUIRE);
	lu_fk_trace(k, LU_K_LOAD_TAIL, k->k_tail_seen, 0, 0);
	return k->k_tail_seen;
}

/* kGetSqe: consume one SQE below the observed tail; false if there is none. */
static inline bool lu_fk_get_sqe(struct lu_fake_kernel *k)
{
	struct lu_sq *sq = &k->ring->sq;
	if (k->k_head == k->k_tail_seen)
		return false;
	uint32_t slot = sq->array[k->k_head & sq->mask];
	const struct io_uring_sqe *sqe = &sq->sqes[slot];
	struct lu_fk_cqe c = { sqe->user_data, (int32_t)sqe->len };
	lu_fkq_push(&k->inflight, c);
	lu_fk_trace(k, LU_K_GET_SQE, k->k_head, c.user_data, 0);
	k->k_head++;
	return true;
}

/* kCommitSq */
static inline void lu_fk_commit_sq(struct lu_fake_kernel *k)
{
	__atomic_store_n(k->ring->sq.sq_head, k->k_head, __ATOMIC_RELEASE);
	lu_fk_trace(k, LU_K_COMMIT_SQ, k->k_head, 0, 0);
}

/*
 * kLoadCqHead.  The kernel reads it with READ_ONCE and relies on a control dependency to
 * order its CQE writes after the read; acquire is the C11 rendering of that.
 */
static inline uint32_t lu_fk_load_cq_head(struct lu_fake_kernel *k)
{
	k->k_cq_head_seen = __atomic_load_n(k->ring->cq.cq_head, __ATOMIC_ACQUIRE);
	lu_fk_trace(k, LU_K_LOAD_CQ_HEAD, k->k_cq_head_seen, 0, 0);
	return k->k_cq_head_seen;
}

static inline bool lu_fk_cq_has_space(const struct lu_fake_kernel *k)
{
	return k->k_cq_tail - k->k_cq_head_seen < k->ring->cq.capacity;
}

static inline void lu_fk_write_cqe(struct lu_fake_kernel *k, struct lu_fk_cqe c)
{
	struct lu_cq *cq = &k->ring->cq;
	struct io_uring_cqe *cqe = &cq->cqes[k->k_cq_tail & cq->mask];
	cqe->user_data = c.user_data;
	cqe->res = c.res;
	cqe->flags = 0;
	k->k_cq_tail++;
}

/*
 * Complete the i-th oldest in-flight request: kPost if the CQ has room and nothing is waiting
 * in the overflow list (posting past it would break CQ order), kOverflow otherwise.
 */
static inline void lu_fk_complete(struct lu_fake_kernel *k, size_t i)
{
	struct lu_fk_cqe c = lu_fkq_take(&k->inflight, i);
	if (k->overflow.len == 0 && lu_fk_cq_has_space(k)) {
		lu_fk_trace(k, LU_K_POST, k->k_cq_tail, c.user_data, c.res);
		lu_fk_write_cqe(k, c);
		return;
	}
	lu_fk_trace(k, LU_K_OVERFLOW, 0, c.user_data, c.res);
	lu_fkq_push(&k->overflow, c);
	__atomic_fetch_or(k->ring->sq.flags, IORING_SQ_CQ_OVERFLOW, __ATOMIC_RELAXED);
}

/* kFlush: move the oldest overflowed CQE into the CQ; false if none or no room. */
static inline bool lu_fk_flush(struct lu_fake_kernel *k)
{
	if (k->overflow.len == 0 || !lu_fk_cq_has_space(k))
		return false;
	struct lu_fk_cqe c = lu_fkq_take(&k->overflow, 0);
	lu_fk_trace(k, LU_K_FLUSH, k->k_cq_tail, c.user_data, c.res);
	lu_fk_write_cqe(k, c);
	if (k->overflow.len == 0)
		__atomic_fetch_and(k->ring->sq.flags, ~(uint32_t)IORING_SQ_CQ_OVERFLOW,
				   __ATOMIC_RELAXED);
	return true;
}

/* kCommitCq */
static inline void lu_fk_commit_cq(struct lu_fake_kernel *k)
{
	__atomic_store_n(k->ring->cq.cq_tail, k->k_cq_tail, __ATOMIC_RELEASE);
	lu_fk_trace(k, LU_K_COMMIT_CQ, k->k_cq_tail, 0, 0);
}

/* One io_uring_enter's worth of work, in the kernel's order: submit all, flush, complete all. */
static inline void lu_fk_enter(struct lu_fake_kernel *k)
{
	lu_fk_load_tail(k);
	while (lu_fk_get_sqe(k))
		;
	lu_fk_commit_sq(k);
	lu_fk_load_cq_head(k);
	while (lu_fk_flush(k))
		;
	while (k->inflight.len > 0)
		lu_fk_complete(k, 0);
	lu_fk_commit_cq(k);
}

/* ---- the trace format of spec/trace-format.md ---- */

static inline int lu_trace_format_user(char *buf, size_t n, enum lu_ring_action a,
				       uint32_t index, uint64_t user_data)
{
	switch (a) {
	case LU_U_GET_SQE:
		return snprintf(buf, n, "uGetSqe %" PRIu32 " %" PRIu64, index, user_data);
	case LU_U_LOAD_HEAD:
		return snprintf(buf, n, "uLoadHead %" PRIu32, index);
	case LU_U_PUBLISH:
		return snprintf(buf, n, "uPublish %" PRIu32, index);
	case LU_U_LOAD_CQ_TAIL:
		return snprintf(buf, n, "uLoadCqTail %" PRIu32, index);
	case LU_U_REAP:
		return snprintf(buf, n, "uReap %" PRIu32 " %" PRIu64, index, user_data);
	case LU_U_CQ_ADVANCE:
		return snprintf(buf, n, "uCqAdvance %" PRIu32, index);
	case LU_U_FILL_SQE:
		break;
	}
	return snprintf(buf, n, "uUnknown %d", (int)a);
}

static inline int lu_trace_format_kernel(char *buf, size_t n, enum lu_fk_action a,
					 uint32_t index, uint64_t user_data, int32_t res)
{
	switch (a) {
	case LU_K_LOAD_TAIL:
		return snprintf(buf, n, "kLoadTail %" PRIu32, index);
	case LU_K_GET_SQE:
		return snprintf(buf, n, "kGetSqe %" PRIu32 " %" PRIu64, index, user_data);
	case LU_K_COMMIT_SQ:
		return snprintf(buf, n, "kCommitSq %" PRIu32, index);
	case LU_K_LOAD_CQ_HEAD:
		return snprintf(buf, n, "kLoadCqHead %" PRIu32, index);
	case LU_K_POST:
		return snprintf(buf, n, "kPost %" PRIu32 " %" PRIu64 " %" PRId32, index, user_data,
				res);
	case LU_K_OVERFLOW:
		return snprintf(buf, n, "kOverflow %" PRIu64 " %" PRId32, user_data, res);
	case LU_K_FLUSH:
		return snprintf(buf, n, "kFlush %" PRIu32, index);
	case LU_K_COMMIT_CQ:
		return snprintf(buf, n, "kCommitCq %" PRIu32, index);
	}
	return snprintf(buf, n, "kUnknown %d", (int)a);
}

/*
 * Writes both sides' steps, one line each, in the order they happen.  Typical use:
 *   struct lu_trace_writer w = { out };
 *   lu_trace_attach(&w, &ring, &kernel, start);   // writes the `ring` line, hooks both sides
 *   ...
 *   lu_trace_end(&w);                             // writes what is held back, frees it
 * The two callbacks below also work on their own (ring.trace / kernel.trace with ctx = &w).
 *
 * A uGetSqe line is written where the slot was taken, but its user_data comes at publish
 * (LU_U_FILL_SQE): from the first taken, unpublished SQE on, lines are held in memory and
 * written at the publish.  A uReap repeated by an idempotent peek, or by the advance after
 * it, is written once.
 */
struct lu_trace_writer {
	FILE *out;
	char (*held)[96];     /* lines waiting for a take's user_data          */
	size_t held_len, held_cap;
	size_t *take_line;    /* held line of each taken SQE, from take_first  */
	size_t takes;
	uint32_t take_first;
	uint32_t reaped_to;   /* CQ index after the last uReap written          */
	int reaped_any;
	size_t lines;         /* step lines written so far                      */
};

static inline void lu_trace_emit(struct lu_trace_writer *w, const char *line)
{
	if (w->takes == 0) {
		fprintf(w->out, "%s\n", line);
		w->lines++;
		return;
	}
	if (w->held_len == w->held_cap) {
		w->held_cap = w->held_cap ? 2 * w->held_cap : 64;
		w->held = (char (*)[96])realloc(w->held, w->held_cap * sizeof(*w->held));
	}
	snprintf(w->held[w->held_len++], sizeof(*w->held), "%s", line);
}

static inline void lu_trace_release(struct lu_trace_writer *w)
{
	for (size_t i = 0; i < w->held_len; i++)
		fprintf(w->out, "%s\n", w->held[i]);
	w->lines += w->held_len;
	w->held_len = 0;
	w->takes = 0;
}

static inline void lu_trace_write_user(void *ctx, enum lu_ring_action a, uint32_t index,
				       uint64_t user_data)
{
	struct lu_trace_writer *w = (struct lu_trace_writer *)ctx;
	char line[96];

	switch (a) {
	case LU_U_GET_SQE:
		if (w->takes == 0)
			w->take_first = index;
		w->take_line = (size_t *)realloc(w->take_line, (w->takes + 1) * sizeof(size_t));
		w->take_line[w->takes++] = w->held_len;
		break;
	case LU_U_FILL_SQE:
		if (index - w->take_first < w->takes)
			lu_trace_format_user(w->held[w->take_line[index - w->take_first]],
					     sizeof(*w->held), LU_U_GET_SQE, index, user_data);
		return;
	case LU_U_REAP:
		if (w->reaped_any && (int32_t)(index - w->reaped_to) < 0)
			return;
		w->reaped_any = 1;
		w->reaped_to = index + 1;
		break;
	default:
		break;
	}
	lu_trace_format_user(line, sizeof(line), a, index, user_data);
	lu_trace_emit(w, line);
	if (a == LU_U_PUBLISH)
		lu_trace_release(w);
}

static inline void lu_trace_write_kernel(void *ctx, enum lu_fk_action a, uint32_t index,
					 uint64_t user_data, int32_t res)
{
	char line[96];
	lu_trace_format_kernel(line, sizeof(line), a, index, user_data, res);
	lu_trace_emit((struct lu_trace_writer *)ctx, line);
}

/* Takes never published keep user_data 0: nothing reads them, the model accepts any. */
static inline void lu_trace_end(struct lu_trace_writer *w)
{
	lu_trace_release(w);
	free(w->held);
	free(w->take_line);
	w->held = NULL;
	w->take_line = NULL;
	w->held_cap = 0;
}

static inline void lu_trace_begin(struct lu_trace_writer *w, uint32_t sq_capacity,
				  uint32_t cq_capacity, uint32_t start)
{
	fprintf(w->out, "ring %" PRIu32 " %" PRIu32 " %" PRIu32 "\n", sq_capacity, cq_capacity,
		start);
}

static inline void lu_trace_attach(struct lu_trace_writer *w, struct lu_ring *ring,
				   struct lu_fake_kernel *k, uint32_t start)
{
	lu_trace_begin(w, ring->sq.capacity, ring->cq.capacity, start);
	ring->trace = lu_trace_write_user;
	ring->trace_ctx = w;
	if (k) {
		k->trace = lu_trace_write_kernel;
		k->trace_ctx = w;
	}
}

#ifdef __cplusplus
}
#endif
#endif
