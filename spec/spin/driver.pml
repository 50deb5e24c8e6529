/*
 * driver.pml - the per-thread driver of src/runtime/uring/driver.c against a kernel that
 * refuses submissions (-EBUSY, -EAGAIN, one hard error) and overflows its CQ.
 *
 * The ring itself is sequentially consistent here: its memory orderings are ring.pml's
 * subject.  What this model adds is the driver's control flow: take_sqe's retry when the SQ is
 * full, submit's handling of -EBUSY/-EAGAIN, reap's flush when IORING_SQ_CQ_OVERFLOW is set,
 * lu_submit/lu_wait, lu_run's NOP rewrite of an SQE the kernel never read, and driver_destroy
 * (cancel everything, wait for every CQE, then unmap).
 *
 * Agents: `user` is one thread running a nondeterministic program: lu_submit of three batch
 * operations, lu_wait any number of times, one lu_run, in any order, stopping at any point,
 * then driver_destroy.  `kernel` is io_uring_enter, entered only by the user: without SQPOLL
 * the kernel reads the SQ only inside that call.  `device` completes consumed requests, in any
 * order, at any time (io-wq and task work), posting to the CQ or, when it is full or the
 * overflow list is not empty, to the overflow list (NODROP: nothing is dropped, so -EBADR and
 * the `dropped` paths are not modelled).
 *
 * Ids are what an SQE carries: batch operations 0..N-1, teardown's cancel, lu_run's operation
 * SYNC and the NOP that may replace it (same user_data, so its CQE counts as SYNC's).
 *
 * Build knobs: -DSQ=<sq capacity> -DCQ=<cq capacity>; -DDEFER_TASKRUN (completions are posted
 * only while the thread waits in io_cqring_wait, the setup driver.c asks for); -DSQPOLL (a
 * kernel thread also consumes published SQEs at any time: lu_run's NOP rewrite is then a race
 * and check.sh requires the model to show it); and one driver bug: -DNO_REAP_FLUSH (reap
 * stops at an empty CQ without looking at IORING_SQ_CQ_OVERFLOW), -DRETRY_NO_REAP (take_sqe
 * retries a full SQ without reaping first), -DEARLY_UNMAP (teardown unmaps while one CQE is
 * still due).
 */

#ifndef SQ
#define SQ 2
#endif
#ifndef CQ
#define CQ 2
#endif

#define N 3                 /* batch operations; the device's choice names every id */
#define CANCEL 3            /* teardown's IORING_OP_ASYNC_CANCEL (CANCEL_ANY | CANCEL_ALL) */
#define SYNC 4              /* lu_run's operation */
#define NOP 5               /* lu_run's rewrite of it */
#define IDS 6
#define TAG(x) ((x) == NOP -> SYNC : (x))
#define RUN_AT 2            /* the user program's step that is lu_run */
#define OP(step) ((step) < RUN_AT -> (step) : (step) - 1)

#define OK 0
#define EBUSY 1
#define EAGAIN 2
#define EFAULT 3            /* any other failure of io_uring_enter before it consumed anything */

/* ---- the ring (SQ slots, both indices, CQ, overflow list) ---- */
byte sqe[SQ];
byte sq_tail, sq_head;
chan cq = [CQ] of { byte };
chan overflow = [IDS] of { byte };
#define CQ_OVERFLOW (len(overflow) > 0)   /* IORING_SQ_CQ_OVERFLOW, set and cleared with the list */
bool mapped = true;

/* ---- kernel state ---- */
bool in_kernel[IDS];        /* consumed, CQE not produced yet */
byte eagain_left = 1;       /* -EAGAIN is transient: "out of resources, reap and retry" */
byte efault_left = 1;
bool in_wait;               /* the user thread is inside io_cqring_wait */
bool in_run;                /* lu_run is on the stack: the one place a hard error is injected */

/* ---- io_uring_enter(to_submit, min_complete, GETEVENTS) as a call into `kernel` ---- */
chan enter_call = [0] of { byte, byte };
chan enter_ret = [0] of { byte };

/* ---- ghosts for the properties ---- */
bool taken[IDS];            /* its SQE was filled by take_sqe */
bool reaped[IDS];           /* a CQE with its user_data was reaped */
bool sync_abandoned;        /* lu_run returned an error: the caller's buffer may be gone */
bool torn_down;             /* driver_destroy finished */

/* io_get_sqe: the kernel reads the SQE at its head. */
#define CONSUME_ONE \
	assert(mapped); x = sqe[sq_head % SQ]; \
	assert(x != SYNC || !sync_abandoned);   /* a rewritten SQE is read as the NOP */ \
	in_kernel[x] = true; sq_head++

/*
 * The kernel's half of io_uring_enter.  Submission first: with the overflow list non-empty an
 * old kernel may refuse it with -EBUSY (it tries a flush first, which we let fail), and it may
 * once answer -EAGAIN and, inside lu_run, once fail outright; otherwise it consumes
 * min(to_submit, published) SQEs.  Then GETEVENTS (the driver always passes it):
 * io_cqring_wait flushes the overflow list, and again after each wake-up, until min_complete
 * CQEs are in the CQ.
 */
active proctype kernel() {
	byte to_submit, min_complete, ret, x;
end:	do
	:: enter_call?to_submit, min_complete ->
		if
		:: to_submit > 0 && CQ_OVERFLOW -> ret = EBUSY
		:: to_submit > 0 && eagain_left > 0 -> eagain_left--; ret = EAGAIN
		:: to_submit > 0 && efault_left > 0 && in_run -> efault_left--; ret = EFAULT
		:: else ->
			do
			:: atomic { to_submit > 0 && sq_head != sq_tail -> CONSUME_ONE; to_submit--; x = 0 }
			:: else -> break
			od;
			in_wait = true;
			do
			:: atomic { CQ_OVERFLOW && len(cq) < CQ -> overflow?x; cq!x; x = 0 }
			:: atomic { !(CQ_OVERFLOW && len(cq) < CQ) && len(cq) >= min_complete ->
				in_wait = false; break }
			od;
			ret = OK
		fi;
		enter_ret!ret; to_submit = 0; min_complete = 0; ret = 0
	od
}

#ifdef DEFER_TASKRUN
#define MAY_POST in_wait
#else
#define MAY_POST true
#endif

/* A consumed request completes; its CQE keeps FIFO order with the overflow list. */
active proctype device() {
	byte x;
end:	do
	:: atomic {
		if
		:: MAY_POST && in_kernel[0] -> x = 0
		:: MAY_POST && in_kernel[1] -> x = 1
		:: MAY_POST && in_kernel[2] -> x = 2
		:: MAY_POST && in_kernel[CANCEL] -> x = CANCEL
		:: MAY_POST && in_kernel[SYNC] -> x = SYNC
		:: MAY_POST && in_kernel[NOP] -> x = NOP
		fi;
		assert(mapped);                      /* the kernel writes into the ring's memory */
		assert(!(x == SYNC && sync_abandoned));  /* ...and into the caller's buffer */
		in_kernel[x] = false;
		if
		:: !CQ_OVERFLOW && len(cq) < CQ -> cq!x
		:: else -> overflow!x
		fi; x = 0 }
	od
}

#ifdef SQPOLL
/* The SQ thread: consumes whatever is published, whenever it runs. */
active proctype sqpoll() {
	byte x;
end:	do
	:: atomic { sq_head != sq_tail -> CONSUME_ONE; x = 0 }
	od
}
#endif

active proctype user() {
	byte sqe_tail, head_seen;            /* struct lu_sq: sqe_tail, head_seen */
	byte in_ring, inflight;              /* struct lu_driver */
	chan stash = [N] of { byte };
	byte step, pending, ret, x, index;
	bool found, failed;

#define ENTER(ts, mc) enter_call!ts, mc; enter_ret?ret

/*
 * reap(d, w): batch CQEs to the stash, the waiter's (`in_run`: w != NULL) into `found`, stale
 * synchronous ones and the cancel's nowhere; flush on IORING_SQ_CQ_OVERFLOW.  Its contract
 * ("a full CQ never hides a completion") is asserted where it returns.
 */
#ifdef NO_REAP_FLUSH
#define REAP_DONE atomic { len(cq) == 0 -> assert(!CQ_OVERFLOW); break }
#else
#define REAP_DONE atomic { len(cq) == 0 && !CQ_OVERFLOW -> break }
#endif
#define REAP \
	do \
	:: atomic { len(cq) > 0 -> cq?x; \
		if :: x < N -> stash!x :: x == SYNC && in_run -> found = true :: else fi; \
		reaped[TAG(x)] = true; in_ring--; x = 0 } \
	:: atomic { len(cq) == 0 && CQ_OVERFLOW } -> ENTER(0, 0) \
	:: REAP_DONE \
	od

/* submit(d, min_complete): publish, enter; on -EBUSY/-EAGAIN wait for one CQE if any is due. */
#define SUBMIT(mc) \
	atomic { sq_tail = sqe_tail; head_seen = sq_head; pending = sqe_tail - head_seen }; \
	ENTER(pending, mc); \
	if \
	:: ret == EBUSY || ret == EAGAIN -> \
		if \
		:: in_ring > pending -> ENTER(0, 1) \
		:: else                              /* sched_yield */ \
		fi \
	:: else \
	fi; \
	failed = ret == EFAULT; ret = 0; pending = 0

/* take_sqe: lu_ring_get_sqe (head re-read only when the cached one says full), else flush. */
#ifdef RETRY_NO_REAP
#define RETRY_REAP skip
#else
#define RETRY_REAP REAP
#endif
#define TAKE_SQE(op) \
	do \
	:: sqe_tail - head_seen >= SQ -> head_seen = sq_head; \
		if \
		:: sqe_tail - head_seen >= SQ -> RETRY_REAP; SUBMIT(0) \
		:: else \
		fi \
	:: else -> atomic { sqe[sqe_tail % SQ] = op; sqe_tail++; in_ring++; taken[op] = true }; break \
	od

	/* lu_submit 0, lu_submit 1, lu_run, lu_submit 2, with lu_wait and the exit anywhere */
	do
	:: step <= N && step != RUN_AT -> TAKE_SQE(OP(step)); inflight++; step++   /* lu_submit */
	:: inflight > 0 ->                                     /* lu_wait */
		do
		:: atomic { len(stash) > 0 -> stash?x; inflight--; x = 0 }; break
		:: len(stash) == 0 -> REAP;
			if
			:: len(stash) > 0
			:: len(stash) == 0 -> SUBMIT(1)
			fi
		od
	:: step == RUN_AT -> step++;                           /* lu_run */
		TAKE_SQE(SYNC); index = sqe_tail - 1; in_run = true;
		do
		:: SUBMIT(1);
			if
			:: failed -> failed = false;
				/* consumed(): publish, then compare with the head it loads */
				atomic { sq_tail = sqe_tail; head_seen = sq_head };
				if
				:: head_seen <= index ->  /* never read: make it a NOP, same user_data */
					sqe[index % SQ] = NOP;
					sync_abandoned = true; break
				:: else                   /* settle(): wait for its own CQE */
				fi
			:: else -> REAP;
				if
				:: found -> break
				:: else
				fi
			fi
		od;
		in_run = false; found = false; index = 0
	:: break                                               /* the thread exits */
	od;

	/* driver_destroy: drained = in_ring == 0 || submit(d, 1) == 0, until in_ring is 0 */
#ifdef EARLY_UNMAP
#define LAST_DUE 1
#else
#define LAST_DUE 0
#endif
	if
	:: in_ring > 0 ->
		TAKE_SQE(CANCEL);
		do
		:: in_ring > LAST_DUE ->
			atomic { do :: stash?x :: len(stash) == 0 -> break od; x = 0 };  /* stash_len = 0 */
			REAP;
			if
			:: in_ring > LAST_DUE -> SUBMIT(1)
			:: else
			fi
		:: else -> break
		od
	:: else
	fi;
	mapped = false;                      /* lu_ring_exit */
	torn_down = true
}

/* Every operation whose SQE was taken has a CQE with its user_data reaped. */
ltl reap_all {
	[] ((taken[0] -> <> reaped[0]) && (taken[1] -> <> reaped[1]) && (taken[2] -> <> reaped[2]) &&
	    (taken[CANCEL] -> <> reaped[CANCEL]) && (taken[SYNC] -> <> reaped[SYNC]))
}
ltl teardown { <> torn_down }
