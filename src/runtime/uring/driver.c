/*
 * driver.c - one io_uring per thread; see driver.h.
 *
 * Bookkeeping: `in_ring` counts SQEs taken from the ring whose final CQE has not been reaped
 * yet (both paths); it is what teardown drains to zero.  `inflight` counts batch operations
 * whose final completion lu_wait has not returned yet.  A CQE with IORING_CQE_F_MORE (a
 * multishot operation's, or a zero-copy send's before its IORING_CQE_F_NOTIF) is not final and
 * counts in neither.  Completions reaped but not yet returned wait in the stash, whose capacity
 * lu_submit reserves up front for one CQE per operation, so that reaping a single-shot CQE
 * never has to allocate; only the extra CQEs of multishot operations grow it (see reap).
 *
 * Synchronous operations carry user_data LU_SYNC_TAG | seq.  Only the newest one is awaited
 * (with, while it settles, the cancel aimed at it); a CQE with the tag bit and another seq
 * belongs to an operation the kernel never read (an error path below turned it into a NOP)
 * and is dropped.
 */
#include "driver.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files.h"
#include "ring.h"

#define LU_SYNC_TAG (UINT64_C(1) << 63)

/* The best the kernel offers; lu_ring_init degrades on older kernels. */
static const uint32_t ring_flags =
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;

static atomic_uint ring_entries = LU_DRIVER_DEFAULT_ENTRIES;

struct lu_driver {
	struct lu_ring ring;
	uint64_t sync_seq;
	unsigned in_ring;
	unsigned inflight;
	bool batch_lost;     /* -EBADR seen: the next lu_wait reports it */
	bool dropped;        /* -EBADR ever seen: in_ring may never reach zero */
	struct io_uring_cqe *stash;
	unsigned stash_head, stash_len, stash_cap;
	struct lu_files files;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_err;
/*
 * A ring holds a descriptor only between io_uring_setup and its registration, but a thousand
 * threads starting at once under a limit of 1,024 would each hold one in that window and run
 * out (EMFILE).  Setting rings up one at a time bounds the cost to one descriptor per process.
 */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
/* The fast path; the pthread key is only there for its destructor. */
static _Thread_local struct lu_driver *this_driver;
/* Why this thread's last attempt to make a ring failed (-errno), 0 if it has one. */
static _Thread_local int this_setup_err;

void lu_driver_set_entries(unsigned entries)
{
	atomic_store(&ring_entries, entries);
}

static int stash_reserve(struct lu_driver *d, unsigned n)
{
	if (n <= d->stash_cap)
		return 0;
	unsigned cap = d->stash_cap ? 2 * d->stash_cap : 16;
	while (cap < n)
		cap *= 2;
	struct io_uring_cqe *s = malloc(cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < d->stash_len; i++)
		s[i] = d->stash[(d->stash_head + i) % d->stash_cap];
	free(d->stash);
	d->stash = s;
	d->stash_head = 0;
	d->stash_cap = cap;
	return 0;
}

/* Room for one more; false only when the stash is full and cannot grow. */
static bool stash_push(struct lu_driver *d, const struct io_uring_cqe *cqe)
{
	if (d->stash_len == d->stash_cap && stash_reserve(d, d->stash_cap + 1) < 0)
		return false;
	d->stash[(d->stash_head + d->stash_len++) % d->stash_cap] = *cqe;
	return true;
}

static bool stash_pop(struct lu_driver *d, struct io_uring_cqe *out)
{
	if (d->stash_len == 0)
		return false;
	*out = d->stash[d->stash_head];
	d->stash_head = (d->stash_head + 1) % d->stash_cap;
	d->stash_len--;
	return true;
}

/* The kernel dropped CQEs (it could not allocate overflow entries): tell every waiter. */
static void note_dropped(struct lu_driver *d)
{
	d->dropped = true;
	d->batch_lost = d->inflight > 0;
}

/*
 * The synchronous CQEs a waiter looks for: its operation's and, while the operation settles
 * (lu_run below), the cancel aimed at it.  A tag of 0 never matches (it lacks the tag bit).
 */
struct sync_wait {
	uint64_t tag[2];
	int res[2];
	bool found[2];
};

/*
 * Move every posted CQE out of the ring: batch ones to the stash, the waiter's into `w`
 * (NULL when no synchronous operation is waiting), stale synchronous ones nowhere.  The
 * kernel's overflow list is flushed on the way, so a full CQ never hides a completion.
 * Returns 0, or -EBADR when the flush found that the kernel dropped CQEs.
 */
static int reap(struct lu_driver *d, struct sync_wait *w)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		while ((cqe = lu_ring_peek_cqe(&d->ring)) != NULL) {
			if (!(cqe->user_data & LU_SYNC_TAG)) {
				/* Out of memory: the CQE waits in the ring (or its overflow list). */
				if (!stash_push(d, cqe))
					return 0;
			} else if (w) {
				for (int i = 0; i < 2; i++) {
					if (cqe->user_data == w->tag[i]) {
						w->res[i] = cqe->res;
						w->found[i] = true;
					}
				}
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				d->in_ring--;
			lu_ring_cq_advance(&d->ring, 1);
		}
		if (!lu_ring_cq_overflowed(&d->ring))
			return 0;
		int ret = lu_ring_enter(&d->ring, 0, 0, IORING_ENTER_GETEVENTS);
		if (ret == -EBADR)
			note_dropped(d);
		if (ret < 0)
			return ret == -EBADR ? ret : 0;
	}
}

/*
 * io_uring_enter submitting everything pending, optionally waiting for one CQE.  Transient
 * failures are absorbed here and reported as 0 (the caller loops): EINTR; EBUSY/EAGAIN, where
 * the kernel takes nothing until completions are reaped, so we wait for one if it holds any.
 * Anything else is returned; EBADR is also recorded for the batch.
 */
static int submit(struct lu_driver *d, unsigned min_complete)
{
	uint32_t pending = lu_ring_publish_sq(&d->ring);
	int ret = lu_ring_enter(&d->ring, pending, min_complete, IORING_ENTER_GETEVENTS);
	if (ret >= 0 || ret == -EINTR)
		return 0;
	if (ret == -EBUSY || ret == -EAGAIN) {
		if (d->in_ring > pending)
			lu_ring_enter(&d->ring, 0, 1, IORING_ENTER_GETEVENTS);
		else
			sched_yield();
		return 0;
	}
	if (ret == -EBADR)
		note_dropped(d);
	return ret;
}

/* Copy `sqe` into the ring's `slot`, on the registered file when its fd has one. */
static void put_sqe(struct lu_driver *d, struct io_uring_sqe *slot, const struct io_uring_sqe *sqe)
{
	*slot = *sqe;
	if (d->files.used > 0)
		lu_files_fix(&d->files, slot);
}

/*
 * A close must not leave its file in the table (files.h), so a registered fd's slot is cleared
 * before its close is queued.  Operations queued before the close are submitted first: the
 * kernel takes their file as it reads them, as it would the plain fd, where clearing the slot
 * under them would fail them with -EBADF.  If the kernel will not clear the slot, the close
 * still closes the fd, as a plain close would, and the fd is plain from then on (files.h).
 */
static void before_close(struct lu_driver *d, const struct io_uring_sqe *sqe)
{
	if (d->files.used == 0 || sqe->opcode != IORING_OP_CLOSE || sqe->flags & IOSQE_FIXED_FILE ||
	    lu_files_slot(&d->files, sqe->fd) < 0)
		return;
	if (lu_ring_publish_sq(&d->ring) > 0)
		submit(d, 0);
	lu_files_forget(&d->files, &d->ring, sqe->fd);
}

/* A free SQE; a full SQ is flushed to the kernel (completions go to the stash) and retried. */
static int take_sqe(struct lu_driver *d, struct io_uring_sqe **out)
{
	for (;;) {
		struct io_uring_sqe *sqe = lu_ring_get_sqe(&d->ring);
		if (sqe) {
			d->in_ring++;
			*out = sqe;
			return 0;
		}
		reap(d, NULL);
		int err = submit(d, 0);
		if (err < 0 && err != -EBADR)
			return err;
	}
}

/*
 * Whether the kernel has read the SQE at `index`.  Publishing on the way is harmless: without
 * SQPOLL the kernel reads the SQ only inside io_uring_enter.
 */
static bool consumed(struct lu_driver *d, uint32_t index)
{
	lu_ring_publish_sq(&d->ring);
	return (int32_t)(index - d->ring.sq.head_seen) < 0;
}

static uint64_t next_sync_tag(struct lu_driver *d)
{
	return LU_SYNC_TAG | (++d->sync_seq & ~LU_SYNC_TAG);
}

/*
 * Reap and wait until one of the waiter's CQEs (operation or cancel) is in; a wait that
 * fails is retried after a pause, because the caller may not return before the operation
 * has ended: that would let the kernel write into freed memory.
 */
static void wait_sync(struct lu_driver *d, struct sync_wait *w)
{
	const struct timespec pause = { 0, 1000000 };

	while (!w->found[0] && !w->found[1]) {
		int r = reap(d, w);
		if (r == 0 && !w->found[0] && !w->found[1])
			r = submit(d, 1);
		if (r < 0)
			nanosleep(&pause, NULL);
	}
}

/*
 * Waiting for our operation failed after the kernel took it: it dropped CQEs (-EBADR), or
 * entering failed (`err`).  The caller's buffer must outlive the operation, so cancel it and
 * wait until it has provably ended: its own CQE arrives (its real result, or -ECANCELED for
 * the cancel's doing), or a cancel finds that the kernel no longer knows it (-ENOENT: it
 * completed, and its CQE was among those dropped).  -EALREADY (it is executing and may not
 * stop at once) is answered with another cancel after a pause.
 */
static int settle(struct lu_driver *d, struct sync_wait *w, int err)
{
	const struct timespec pause = { 0, 1000000 };

	for (;;) {
		struct io_uring_sqe *cancel;
		w->tag[1] = 0;
		w->found[1] = false;
		if (take_sqe(d, &cancel) == 0) {
			cancel->opcode = IORING_OP_ASYNC_CANCEL;
			cancel->addr = w->tag[0];
			cancel->user_data = w->tag[1] = next_sync_tag(d);
		}
		wait_sync(d, w);
		if (!w->found[0] && w->res[1] == 0) {
			w->tag[1] = 0;  /* cancelled: its CQE is on the way */
			w->found[1] = false;
			wait_sync(d, w);
		}
		if (!w->found[0] && w->res[1] == -ENOENT) {
			/* Under DEFER_TASKRUN its completion may still be queued task work. */
			lu_ring_enter(&d->ring, 0, 0, IORING_ENTER_GETEVENTS);
			reap(d, w);
			if (!w->found[0]) {
				d->in_ring--;  /* its CQE is the one that was dropped */
				return err;
			}
		}
		if (w->found[0])
			return w->res[0] == -ECANCELED ? err : w->res[0];
		nanosleep(&pause, NULL);
	}
}

int lu_run(const struct io_uring_sqe *sqe)
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d)
		return err;

	before_close(d, sqe);
	struct io_uring_sqe *slot;
	if ((err = take_sqe(d, &slot)) < 0)
		return err;
	uint32_t index = d->ring.sq.sqe_tail - 1;
	struct sync_wait w = { .tag = { next_sync_tag(d), 0 } };
	put_sqe(d, slot, sqe);
	slot->user_data = w.tag[0];

	/* Submit before the first reap: no CQE of ours can precede the kernel's read of the SQE. */
	for (;;) {
		err = submit(d, 1);
		if (err == 0)
			err = reap(d, &w);
		if (w.found[0])
			return w.res[0];
		if (err == 0)
			continue;
		/*
		 * The ring failed us.  If the kernel never read our SQE, turn it into a NOP so that
		 * no later submission touches the caller's buffers; its CQE will be stale.
		 */
		if (!consumed(d, index)) {
			memset(slot, 0, sizeof(*slot));
			slot->opcode = IORING_OP_NOP;
			slot->user_data = w.tag[0];
			return err;
		}
		return settle(d, &w, err);
	}
}

int lu_submit(struct lu_driver *d, const struct io_uring_sqe *sqe)
{
	if (sqe->user_data & LU_SYNC_TAG)
		return -EINVAL;
	int err = stash_reserve(d, d->inflight + 1);
	if (err < 0)
		return err;
	before_close(d, sqe);
	struct io_uring_sqe *slot;
	if ((err = take_sqe(d, &slot)) < 0)
		return err;
	put_sqe(d, slot, sqe);
	d->inflight++;
	return 0;
}

int lu_wait(struct lu_driver *d, struct io_uring_cqe *cqe)
{
	for (;;) {
		if (d->batch_lost) {
			d->batch_lost = false;
			return -EBADR;
		}
		if (stash_pop(d, cqe)) {
			if (!(cqe->flags & IORING_CQE_F_MORE))
				d->inflight--;
			return 0;
		}
		if (d->inflight == 0)
			return -ENOENT;
		reap(d, NULL);
		if (d->stash_len > 0)
			continue;
		int err = submit(d, 1);
		if (err < 0 && err != -EBADR)
			return err;
	}
}

unsigned lu_inflight(const struct lu_driver *d)
{
	return d->inflight;
}

/*
 * Thread exit: cancel whatever is still in the kernel and wait until every SQE has its CQE,
 * so the kernel is done with every buffer before the ring goes.  If that cannot be known
 * (the kernel dropped CQEs, or entering fails), the ring is leaked rather than unmapped under
 * a kernel that may still complete into it.
 */
static void driver_destroy(void *p)
{
	struct lu_driver *d = p;
	this_driver = NULL;
	bool drained = true;

	if (d->in_ring > 0) {
		struct io_uring_sqe *cancel;
		drained = take_sqe(d, &cancel) == 0;
		if (drained) {
			cancel->opcode = IORING_OP_ASYNC_CANCEL;
			cancel->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
			cancel->user_data = LU_SYNC_TAG;
		}
		while (drained && d->in_ring > 0) {
			d->stash_len = 0;  /* nobody will ask for these any more */
			reap(d, NULL);
			drained = d->in_ring == 0 || (submit(d, 1) == 0 && !d->dropped);
		}
	}
	if (drained)
		lu_ring_exit(&d->ring);
	lu_files_free(&d->files);
	free(d->stash);
	free(d);
}

/*
 * A forked child inherits the forking thread's driver, but its ring is the parent's: the CQ
 * would be shared, and SINGLE_ISSUER rejects the child's submissions.  The child drops its
 * copies (the parent's ring is unaffected) and makes its own ring on first use.
 */
static void lock_setup(void)
{
	pthread_mutex_lock(&setup_lock);
}

static void unlock_setup(void)
{
	pthread_mutex_unlock(&setup_lock);
}

static void drop_after_fork(void)
{
	unlock_setup();
	struct lu_driver *d = this_driver;
	if (!d)
		return;
	this_driver = NULL;
	pthread_setspecific(key, NULL);
	lu_ring_forget(&d->ring);
	lu_files_free(&d->files);
	free(d->stash);
	free(d);
}

void lu_driver_release(void)
{
	struct lu_driver *d = this_driver;
	if (!d)
		return;
	pthread_setspecific(key, NULL);
	driver_destroy(d);
}

static void make_key(void)
{
	key_err = pthread_key_create(&key, driver_destroy);
	if (key_err == 0)
		key_err = pthread_atfork(lock_setup, unlock_setup, drop_after_fork);
}

struct lu_driver *lu_driver_get(int *err)
{
	if (this_driver)
		return this_driver;
	pthread_once(&key_once, make_key);
	int e = -key_err;
	struct lu_driver *d = NULL;
	if (e == 0 && (d = calloc(1, sizeof(*d))) == NULL)
		e = -ENOMEM;
	if (e == 0) {
		lock_setup();
		e = lu_ring_init(&d->ring, atomic_load(&ring_entries), ring_flags);
		/* Refused on kernels before 5.18; the ring then keeps its fd (never 0, 1 or 2). */
		if (e == 0)
			lu_ring_register_ring_fd(&d->ring);
		unlock_setup();
	}
	if (e == 0 && (e = -pthread_setspecific(key, d)) != 0)
		lu_ring_exit(&d->ring);
	if (e != 0) {
		free(d);
		this_setup_err = e;
		if (err)
			*err = e;
		return NULL;
	}
	this_setup_err = 0;
	this_driver = d;
	return d;
}

int lu_driver_setup_error(void)
{
	return this_driver ? 0 : this_setup_err;
}

int lu_driver_probe(struct lu_driver *d, struct lu_ring_opcodes *out)
{
	return lu_ring_probe(&d->ring, out);
}

uint32_t lu_driver_features(const struct lu_driver *d)
{
	return d->ring.features;
}

int lu_driver_register(struct lu_driver *d, unsigned opcode, void *arg, unsigned nr)
{
	return lu_ring_register(&d->ring, opcode, arg, nr);
}

int lu_register_file(struct lu_driver *d, int fd)
{
	return lu_files_add(&d->files, &d->ring, fd);
}

int lu_unregister_file(struct lu_driver *d, int fd)
{
	return lu_files_remove(&d->files, &d->ring, fd);
}

bool lu_file_registered(const struct lu_driver *d, int fd)
{
	return lu_files_slot(&d->files, fd) >= 0;
}

void lu_forget_file(int fd)
{
	struct lu_driver *d = this_driver;
	if (d && d->files.used > 0)
		lu_files_forget(&d->files, &d->ring, fd);
}
