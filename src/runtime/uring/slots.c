/*
 * slots.c - the per-thread table of in-flight operations; see slots.h.
 *
 * Slots live in chunks that are never moved or freed before the table, so an owner pointer or
 * the scratch area handed to the kernel keeps its address however many slots are added.
 * Free slots form a LIFO list (the most recently freed, cache-warm, is reused first).
 *
 * Generations are 31-bit and never 0: gen 0 marks the table's own SQEs (the NOP that bounds a
 * wait, the cancel of a teardown), and the tag 0 names no operation at all, so a cancel aimed
 * at it completes with -ENOENT.
 *
 * The engine (the ring or its emulation) is one small table of functions, chosen when the
 * table is made: how an SQE is queued, how completions come back, how a teardown ends what is
 * in flight.  Both hand their CQEs to complete(), so everything else is shared.
 */
#include "slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "emu.h"

#define CHUNK_SLOTS 1024u
#define MAX_SLOTS (1u << 24)
#define NONE UINT32_MAX
#define TAG_MARKER ((uint64_t)UINT32_MAX)
#define TAG_TEARDOWN ((uint64_t)UINT32_MAX - 1)
#define TAG_NOBODY 0

enum slot_state { SLOT_FREE, SLOT_PREPARED, SLOT_INFLIGHT };

struct slot {
	uint64_t user_data;
	void *owner[LU_SLOT_OWNERS];
	uint32_t gen;
	uint32_t next_free;
	uint32_t kind;
	uint8_t flags;
	uint8_t state;
	union lu_slot_scratch scratch;
};

struct engine;

struct lu_slots {
	const struct engine *engine;
	enum lu_slots_engine kind;
	struct lu_emu *emu;  /* LU_SLOTS_EMULATED's */
	struct slot **chunks;
	uint32_t nchunks;
	uint32_t used;       /* slots ever handed out: indices below it exist */
	uint32_t free_head;
	unsigned inflight;
	uint64_t stale;
	uint64_t serial;
	lu_slot_release_fn *release;
};

static _Thread_local struct lu_slots *this_slots;
static _Thread_local bool exit_hook_set;
static atomic_uint_fast64_t next_serial = 1;

/*
 * glibc runs these thread-exit destructors (C++ thread_local's) before any pthread key's, so the
 * table is torn down while the driver's ring (a pthread key) still holds its operations: the
 * teardown sees every final CQE and can close the fds that late openat/accept results carry.
 */
extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso);
extern void *__dso_handle;

static struct slot *slot_at(const struct lu_slots *t, uint32_t i)
{
	return &t->chunks[i / CHUNK_SLOTS][i % CHUNK_SLOTS];
}

static uint64_t tag_of(uint32_t gen, uint32_t i)
{
	return (uint64_t)gen << 32 | i;
}

struct engine {
	/* Queue `sqe` with user_data `tag`: 0 or -errno. */
	int (*submit)(struct lu_slots *t, struct io_uring_sqe *sqe, uint64_t tag);
	int (*wait)(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx);
	/* End every operation in flight, abandoning each completion (see lu_slots_release). */
	void (*drain)(struct lu_slots *t);
};

static int ring_submit(struct lu_slots *t, struct io_uring_sqe *sqe, uint64_t tag);
static int ring_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx);
static void ring_drain(struct lu_slots *t);
static int emu_submit(struct lu_slots *t, struct io_uring_sqe *sqe, uint64_t tag);
static int emu_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx);
static void emu_drain(struct lu_slots *t);

static const struct engine engines[] = {
	[LU_SLOTS_RING] = { ring_submit, ring_wait, ring_drain },
	[LU_SLOTS_EMULATED] = { emu_submit, emu_wait, emu_drain },
};

static void on_thread_exit(void *unused)
{
	(void)unused;
	lu_slots_release();
}

static void forget_after_fork(void)
{
	/* The child's ring is new (driver.c): the parent's operations are not in it. */
	this_slots = NULL;
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_err;

static void install_fork_handler(void)
{
	fork_err = pthread_atfork(NULL, NULL, forget_after_fork);
}

struct lu_slots *lu_slots_get(lu_slot_release_fn *release, enum lu_slots_engine engine,
			      int *err)
{
	if (this_slots)
		return this_slots;
	int e = 0;
	if (engine != LU_SLOTS_RING && engine != LU_SLOTS_EMULATED)
		e = -EINVAL;
	pthread_once(&fork_once, install_fork_handler);
	if (e == 0 && fork_err)
		e = -fork_err;
	/* An emulated table runs where there is no ring, and must not cost the thread one. */
	if (e == 0 && engine == LU_SLOTS_RING && !lu_driver_get(&e))
		e = e ? e : -ENOMEM;
	if (e == 0 && !exit_hook_set) {
		e = -__cxa_thread_atexit_impl(on_thread_exit, NULL, &__dso_handle);
		exit_hook_set = e == 0;
	}
	struct lu_slots *t = e == 0 ? calloc(1, sizeof(*t)) : NULL;
	if (t && engine == LU_SLOTS_EMULATED && !(t->emu = lu_emu_new())) {
		free(t);
		t = NULL;
	}
	if (!t) {
		*err = e ? e : -ENOMEM;
		return NULL;
	}
	t->engine = &engines[engine];
	t->kind = engine;
	t->free_head = NONE;
	t->release = release;
	t->serial = atomic_fetch_add(&next_serial, 1);
	this_slots = t;
	return t;
}

struct lu_slots *lu_slots_current(void)
{
	return this_slots;
}

uint64_t lu_slots_serial(const struct lu_slots *t)
{
	return t->serial;
}

enum lu_slots_engine lu_slots_engine_of(const struct lu_slots *t)
{
	return t->kind;
}

static int grow(struct lu_slots *t)
{
	if (t->used >= MAX_SLOTS)
		return -EAGAIN;
	if (t->used == t->nchunks * CHUNK_SLOTS) {
		struct slot **c = realloc(t->chunks, (t->nchunks + 1) * sizeof(*c));
		if (!c)
			return -ENOMEM;
		t->chunks = c;
		if (!(c[t->nchunks] = calloc(CHUNK_SLOTS, sizeof(struct slot))))
			return -ENOMEM;
		t->nchunks++;
	}
	slot_at(t, t->used)->gen = 1;
	return (int)t->used++;
}

int lu_slots_prepare(struct lu_slots *t, uint64_t user_data, uint32_t kind, unsigned flags)
{
	int i;
	if (t->free_head != NONE) {
		i = (int)t->free_head;
		t->free_head = slot_at(t, t->free_head)->next_free;
	} else if ((i = grow(t)) < 0) {
		return i;
	}
	struct slot *s = slot_at(t, (uint32_t)i);
	s->user_data = user_data;
	s->kind = kind;
	s->flags = (uint8_t)flags;
	memset(s->owner, 0, sizeof(s->owner));
	s->state = SLOT_PREPARED;
	return i;
}

void **lu_slots_owners(struct lu_slots *t, int slot)
{
	return slot_at(t, (uint32_t)slot)->owner;
}

union lu_slot_scratch *lu_slots_scratch(struct lu_slots *t, int slot)
{
	return &slot_at(t, (uint32_t)slot)->scratch;
}

uint64_t lu_slots_tag(const struct lu_slots *t, int slot)
{
	return tag_of(slot_at(t, (uint32_t)slot)->gen, (uint32_t)slot);
}

/* The slot's operation is over: a new generation, so its CQE can never match again. */
static void slot_free(struct lu_slots *t, uint32_t i)
{
	struct slot *s = slot_at(t, i);
	s->state = SLOT_FREE;
	s->gen = (s->gen + 1) & 0x7fffffffu;
	if (s->gen == 0)
		s->gen = 1;
	s->next_free = t->free_head;
	t->free_head = i;
}

int lu_slots_submit(struct lu_slots *t, int slot, struct io_uring_sqe *sqe)
{
	int err = t->engine->submit(t, sqe, lu_slots_tag(t, slot));
	if (err < 0) {
		slot_free(t, (uint32_t)slot);
		return err;
	}
	slot_at(t, (uint32_t)slot)->state = SLOT_INFLIGHT;
	t->inflight++;
	return 0;
}

int lu_slots_cancel(struct lu_slots *t, uint64_t target, uint64_t user_data)
{
	uint64_t victim = TAG_NOBODY;
	for (uint32_t i = 0; i < t->used; i++) {
		struct slot *s = slot_at(t, i);
		if (s->state == SLOT_INFLIGHT && s->user_data == target) {
			victim = tag_of(s->gen, i);
			break;
		}
	}
	int slot = lu_slots_prepare(t, user_data, 0, 0);
	if (slot < 0)
		return slot;
	struct io_uring_sqe sqe = { .opcode = IORING_OP_ASYNC_CANCEL, .addr = victim };
	return lu_slots_submit(t, slot, &sqe);
}

/*
 * An undeliverable completion: any fd it opened goes now, and with the final one, the owners.
 * A provided buffer it carries is not given back: the buffer ring goes with the thread
 * (pbuf.h).
 */
static void abandon(struct lu_slots *t, const struct lu_slot_cqe *c, uint8_t flags)
{
	if ((flags & LU_SLOT_FD_RESULT) && c->res >= 0)
		close(c->res);
	if (c->flags & IORING_CQE_F_MORE)
		return;
	for (int k = 0; k < LU_SLOT_OWNERS; k++)
		if (c->owner[k] && t->release)
			t->release(c->owner[k]);
}

/*
 * Deliver (or, without `deliver`, abandon) the completion `cqe` names; 1 if it named one.
 * Only a final CQE ends the slot's operation.
 */
static int complete(struct lu_slots *t, const struct io_uring_cqe *cqe,
		    lu_slot_deliver_fn *deliver, void *ctx)
{
	uint32_t i = (uint32_t)cqe->user_data;
	uint32_t gen = (uint32_t)(cqe->user_data >> 32);
	if (gen == 0)
		return 0;
	struct slot *s = i < t->used ? slot_at(t, i) : NULL;
	if (!s || s->state != SLOT_INFLIGHT || s->gen != gen) {
		t->stale++;
		return 0;
	}
	struct lu_slot_cqe c = {
		.user_data = s->user_data, .res = cqe->res, .flags = cqe->flags,
		.kind = s->kind, .scratch = &s->scratch,
	};
	memcpy(c.owner, s->owner, sizeof(c.owner));
	bool final = !(cqe->flags & IORING_CQE_F_MORE);
	if (final)
		t->inflight--;
	if (deliver)
		deliver(ctx, &c);
	else
		abandon(t, &c, s->flags);
	if (final)
		slot_free(t, i);
	return 1;
}

int lu_slots_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx)
{
	return t->engine->wait(t, block, deliver, ctx);
}

/* ---- the ring engine ---- */

static int ring_submit(struct lu_slots *t, struct io_uring_sqe *sqe, uint64_t tag)
{
	(void)t;
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d)
		return err;
	sqe->user_data = tag;
	return lu_submit(d, sqe);
}

static int ring_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx)
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d)
		return err;
	struct io_uring_cqe cqe;
	int n = 0;
	while (block && n == 0 && t->inflight > 0) {
		if ((err = lu_wait(d, &cqe)) < 0)
			return err;
		n += complete(t, &cqe, deliver, ctx);
	}
	if (t->inflight == 0)
		return n;
	/*
	 * Collect what is ready without blocking: a NOP completes as it is submitted, so once its
	 * CQE is in, everything that was ready before is too.  (The driver has no non-blocking
	 * wait.)
	 */
	struct io_uring_sqe nop = { .opcode = IORING_OP_NOP, .user_data = TAG_MARKER };
	if ((err = lu_submit(d, &nop)) < 0)
		return n ? n : err;
	for (;;) {
		if ((err = lu_wait(d, &cqe)) < 0)
			return n ? n : err;
		if (cqe.user_data == TAG_MARKER)
			return n;
		n += complete(t, &cqe, deliver, ctx);
	}
}

unsigned lu_slots_inflight(const struct lu_slots *t)
{
	return t->inflight;
}

struct lu_emu *lu_slots_emu(const struct lu_slots *t)
{
	return t->emu;
}

uint64_t lu_slots_stale(const struct lu_slots *t)
{
	return t->stale;
}

/*
 * Cancel every operation in flight and abandon each final CQE.  If the ring has nothing
 * in flight while slots are (its driver was torn down first, which drains every operation
 * before the ring goes), the kernel is done with them and they are abandoned without results.
 * On a wait error (the kernel dropped CQEs) the rest is leaked: their end cannot be known.
 */
static void ring_drain(struct lu_slots *t)
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d)
		return;
	if (lu_inflight(d) > 0) {
		/* One cancel per operation: IORING_ASYNC_CANCEL_ANY needs Linux 5.19. */
		for (uint32_t i = 0; i < t->used; i++) {
			struct slot *s = slot_at(t, i);
			if (s->state != SLOT_INFLIGHT)
				continue;
			struct io_uring_sqe cancel = {
				.opcode = IORING_OP_ASYNC_CANCEL,
				.addr = tag_of(s->gen, i),
				.user_data = TAG_TEARDOWN,
			};
			lu_submit(d, &cancel);
		}
		struct io_uring_cqe cqe;
		while (t->inflight > 0 && lu_wait(d, &cqe) == 0)
			complete(t, &cqe, NULL, NULL);
		if (t->inflight > 0)
			return;
		while (lu_inflight(d) > 0 && lu_wait(d, &cqe) == 0)
			;
		return;
	}
	for (uint32_t i = 0; i < t->used; i++) {
		struct slot *s = slot_at(t, i);
		if (s->state != SLOT_INFLIGHT)
			continue;
		struct lu_slot_cqe c = { .res = -ECANCELED };
		memcpy(c.owner, s->owner, sizeof(c.owner));
		abandon(t, &c, s->flags);
		slot_free(t, i);
		t->inflight--;
	}
}

/* ---- the emulated engine (emu.h): no ring, no driver ---- */

static int emu_submit(struct lu_slots *t, struct io_uring_sqe *sqe, uint64_t tag)
{
	sqe->user_data = tag;
	return lu_emu_submit(t->emu, sqe);
}

struct emu_reaped {
	struct lu_slots *t;
	lu_slot_deliver_fn *deliver;  /* NULL: abandon */
	void *ctx;
	int n;
};

static void emu_complete(void *p, const struct io_uring_cqe *cqe)
{
	struct emu_reaped *r = p;
	r->n += complete(r->t, cqe, r->deliver, r->ctx);
}

static int emu_wait(struct lu_slots *t, bool block, lu_slot_deliver_fn *deliver, void *ctx)
{
	struct emu_reaped r = { t, deliver, ctx, 0 };
	int err = lu_emu_reap(t->emu, block, emu_complete, &r);
	return r.n > 0 || err >= 0 ? r.n : err;
}

/* The emulation never loses a CQE: every operation ends here, and nothing is leaked. */
static void emu_drain(struct lu_slots *t)
{
	struct emu_reaped r = { t, NULL, NULL, 0 };
	lu_emu_cancel_all(t->emu, emu_complete, &r);
}

void lu_slots_release(void)
{
	struct lu_slots *t = this_slots;
	if (!t)
		return;
	this_slots = NULL;
	if (t->inflight > 0)
		t->engine->drain(t);
	if (t->inflight > 0)
		return;  /* leaked with its slots, see ring_drain */
	lu_emu_free(t->emu);
	for (uint32_t c = 0; c < t->nchunks; c++)
		free(t->chunks[c]);
	free(t->chunks);
	free(t);
}
