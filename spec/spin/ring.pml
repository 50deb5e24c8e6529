/*
 * ring.pml - the io_uring SQ/CQ protocol of src/runtime/uring/ring.c (user side) against a
 * transliteration of the kernel (io_sqring_entries, io_get_sqe, io_commit_sqring,
 * io_cqe_cache_refill, the overflow list, io_commit_cqring), under a weak memory model.
 *
 * Spin explores sequentially consistent interleavings, so the weak behaviours the nine
 * ordering points forbid are modelled explicitly (see check.sh for the mutation table):
 *
 *   store -> store   Slot stores (SQEs by the user, CQEs by the kernel) go into a per-thread
 *                    store buffer that `memory` drains in any order at any time.  A release
 *                    store of an index first drains its thread's buffer; a plain one does not,
 *                    so the index can become visible before the slot contents.
 *   load -> load     Every drain remembers the slot's previous value.  After an acquire load
 *                    of the index, slot loads read memory; after a plain one, a slot load may
 *                    return the previous value too (it was performed early, before the index
 *                    load: the message-passing shape).
 *   load -> store    (a) release missing on a head store: the head is stored before the slot
 *                    loads it should follow.  (b) acquire missing on a head load (for the
 *                    kernel's cq_head, the control dependency of io_cqe_cache_refill): the
 *                    slot store that the load guards is made visible first, and the load must
 *                    then read a head that justifies it (a promise, as in load buffering).  A
 *                    promise that can never be justified blocks, which shows up as an invalid
 *                    end state; check.sh runs the weakened variants with -E for that reason.
 *                    (c) acquire missing on the head load in lu_ring_publish_sq: the user goes
 *                    on filling slots with a head the load reads later (a promise, discharged
 *                    when sq_head holds that value, before the next head load or tail store).
 *
 * Ordering: requests complete in any order; `produced` logs the order in which the kernel
 * produced their CQEs (posted to the CQ or appended to the overflow list), and the user must
 * reap exactly that order.  -DPOST_PAST_OVERFLOW is a kernel that posts into the CQ while the
 * overflow list is non-empty: check.sh requires that the ordering assertion catches it.
 *
 * What a pass means: no interleaving of this encoding loses, duplicates, corrupts or reorders
 * an id.
 * The encoding allows fewer behaviours than C11 does (index accesses are sequentially
 * consistent, a stale slot load sees only the previous value, buffers coalesce per slot), so
 * it is a bug finder for the nine ordering points, not a proof for every weak execution; the
 * mutation table is what shows it is strong enough to see each one missing.  The user side
 * follows ring.c (lu_ring_get_sqe re-reads the head only when the cached one says "full";
 * lu_ring_publish_sq load-acquires it after every tail store, and the user then fills slots on
 * that head without another load); the kernel side follows §1.2-1.3 and §1.6 of the ring notes.
 *
 * Indices are free-running bytes (wrapping at 256 as the C u32s wrap at 2^32; both
 * capacities divide 256), starting at START so that wrap-around happens within N steps.
 * Ids are 0..N-1; EMPTY marks a slot never written.
 *
 * Build knobs: -DC=<sq capacity> -DCQ=<cq capacity> -DN=<ids> -DSTART=<first index>, and one
 * of -DWEAK_SQ_TAIL_RELEASE, -DWEAK_SQ_TAIL_ACQUIRE, -DWEAK_SQ_HEAD_RELEASE,
 * -DWEAK_SQ_HEAD_ACQUIRE, -DWEAK_CQ_TAIL_RELEASE, -DWEAK_CQ_TAIL_ACQUIRE,
 * -DWEAK_CQ_HEAD_RELEASE, -DWEAK_CQ_HEAD_ACQUIRE, -DWEAK_SQ_HEAD_ACQUIRE_PUBLISH (the head
 * load in lu_ring_publish_sq), or the kernel bug -DPOST_PAST_OVERFLOW.
 */

#ifndef C
#define C 2
#endif
#ifndef CQ
#define CQ C
#endif
#ifndef N
#define N 3
#endif
#ifndef START
#define START 254
#endif

#define EMPTY 255
#define FILL(tail, head) (((tail) - (head)) & 255)   /* u32 `tail - head`, here mod 256 */

/* ---- shared memory ---- */
byte sq_head = START, sq_tail = START, cq_head = START, cq_tail = START;
byte sqe[C] = EMPTY, sqe_prev[C] = EMPTY;   /* each SQ slot in memory, and its previous value */
byte cqe[CQ] = EMPTY, cqe_prev[CQ] = EMPTY;

/* ---- store buffers: user SQE stores, kernel CQE stores ---- */
bool sqe_pending[C], cqe_pending[CQ];
byte sqe_buf[C], cqe_buf[CQ];
byte sqe_npending, cqe_npending;

bool kdone;                         /* harness only: the kernel has posted all N CQEs */
byte produced[N], nproduced;        /* ghost: ids in the order their CQEs were produced */

#define SQE_DRAIN(s) \
	sqe_prev[s] = sqe[s]; sqe[s] = sqe_buf[s]; sqe_buf[s] = 0; sqe_pending[s] = false; sqe_npending--
#define CQE_DRAIN(s) \
	cqe_prev[s] = cqe[s]; cqe[s] = cqe_buf[s]; cqe_buf[s] = 0; cqe_pending[s] = false; cqe_npending--

/*
 * A plain slot store; an older buffered store to the same slot drains first (coherence).
 * These begin with an `if`, so never use one as the first statement of an option: Promela
 * would merge its `else` into the enclosing selection.
 */
#define SQE_STORE(s, v) \
	atomic { if :: sqe_pending[s] -> SQE_DRAIN(s) :: else fi; sqe_buf[s] = v; sqe_pending[s] = true; sqe_npending++ }
#define CQE_STORE(s, v) \
	atomic { if :: cqe_pending[s] -> CQE_DRAIN(s) :: else fi; cqe_buf[s] = v; cqe_pending[s] = true; cqe_npending++ }

/* The same store made visible at once (a promise, or a store the buffer let through). */
#define SQE_STORE_NOW(s, v) \
	atomic { if :: sqe_pending[s] -> SQE_DRAIN(s) :: else fi; sqe_buf[s] = v; sqe_npending++; SQE_DRAIN(s) }
#define CQE_STORE_NOW(s, v) \
	atomic { if :: cqe_pending[s] -> CQE_DRAIN(s) :: else fi; cqe_buf[s] = v; cqe_npending++; CQE_DRAIN(s) }

inline drain_user() {
	byte i = 0;
	do
	:: i < C -> if :: sqe_pending[i] -> SQE_DRAIN(i) :: else fi; i++
	:: else -> i = 0; break
	od
}

inline drain_kernel() {
	byte j = 0;
	do
	:: j < CQ -> if :: cqe_pending[j] -> CQE_DRAIN(j) :: else fi; j++
	:: else -> j = 0; break
	od
}

/* Index stores: a release drains the storing thread's buffer in the same step. */
#ifdef WEAK_SQ_TAIL_RELEASE
#define STORE_SQ_TAIL(v) sq_tail = v
#else
#define STORE_SQ_TAIL(v) atomic { drain_user(); sq_tail = v }
#endif
#ifdef WEAK_CQ_TAIL_RELEASE
#define STORE_CQ_TAIL(v) cq_tail = v
#else
#define STORE_CQ_TAIL(v) atomic { drain_kernel(); cq_tail = v }
#endif

/* Slot loads after the index load: stale only if that load was not an acquire. */
#ifdef WEAK_SQ_TAIL_ACQUIRE
#define LOAD_SQE(v, s) atomic { if :: v = sqe[s] :: v = sqe_prev[s] fi }
#else
#define LOAD_SQE(v, s) v = sqe[s]
#endif
#ifdef WEAK_CQ_TAIL_ACQUIRE
#define LOAD_CQE(v, s) atomic { if :: v = cqe[s] :: v = cqe_prev[s] fi }
#else
#define LOAD_CQE(v, s) v = cqe[s]
#endif

/* A later head load or index store waits until a performed-late head load has read its value. */
#ifdef WEAK_SQ_HEAD_ACQUIRE_PUBLISH
#define PROMISE_KEPT (!promised)
#else
#define PROMISE_KEPT true
#endif

/* Completions happen in any order, so overflow's FIFO and the CQ's matter for the order. */
#define COMPLETE(v) \
	d_step { select(r : 1 .. len(inflight)); do :: r > 1 -> inflight?v; inflight!v; r-- :: else -> break od; \
		inflight?v; produced[nproduced] = v; nproduced++; r = 0 }

#ifdef POST_PAST_OVERFLOW
#define OVERFLOW_EMPTY true
#else
#define OVERFLOW_EMPTY (len(overflow) == 0)
#endif

/*
 * Drains either buffer, one slot at a time, in any order, whenever it likes.  It is enabled
 * only while something is buffered, so a real deadlock of user and kernel stays visible.
 */
active proctype memory() {
	byte s;
end:	do
	:: atomic { sqe_npending > 0 -> select(s : 0 .. C - 1);
		if :: sqe_pending[s] -> SQE_DRAIN(s) :: else fi; s = 0 }
	:: atomic { cqe_npending > 0 -> select(s : 0 .. CQ - 1);
		if :: cqe_pending[s] -> CQE_DRAIN(s) :: else fi; s = 0 }
	od
}

/*
 * The user: ring.c's lu_ring_get_sqe / lu_ring_publish_sq / lu_ring_peek_cqe /
 * lu_ring_cq_advance, driven by a test that submits ids 0..N-1 and reaps everything.
 */
active proctype user() {
	byte sqe_tail = START, head_seen = START;   /* private (spec: sqeTail, headSeen) */
#ifdef WEAK_SQ_HEAD_ACQUIRE_PUBLISH
	byte head_promise; bool promised;
#endif
	byte cq_head_local = START, cq_tail_seen = START;
	byte next = 0, id, reaped = 0;
	bool seen[N];

	do
	:: next < N ->                       /* lu_ring_get_sqe + fill the SQE */
		if
		:: FILL(sqe_tail, head_seen) < C -> SQE_STORE(sqe_tail % C, next);
			sqe_tail++; next++
		:: else ->
			if
			:: PROMISE_KEPT; head_seen = sq_head;   /* load-acquire sq_head */
				if
				:: FILL(sqe_tail, head_seen) < C -> SQE_STORE(sqe_tail % C, next);
					sqe_tail++; next++
				:: else                  /* NULL: the SQ is full */
				fi
#ifdef WEAK_SQ_HEAD_ACQUIRE
			:: skip ->                   /* the store overtakes the head load */
				SQE_STORE_NOW(sqe_tail % C, next);
				FILL(sqe_tail, sq_head) < C;
				head_seen = sq_head; sqe_tail++; next++
#endif
			fi
		fi
	:: atomic { sqe_tail != sq_tail && PROMISE_KEPT -> STORE_SQ_TAIL(sqe_tail) };  /* lu_ring_publish_sq */
#ifdef WEAK_SQ_HEAD_ACQUIRE_PUBLISH
		if
		:: head_seen = sq_head
		:: atomic {                      /* the load is performed after later slot stores */
			select(id : 0 .. FILL(sq_tail, head_seen)); head_seen = head_seen + id;
			head_promise = head_seen; promised = true; id = 0 }
		fi
	:: atomic { promised && sq_head == head_promise -> promised = false }  /* ...it reads it here */
#else
		head_seen = sq_head              /* load-acquire sq_head */
#endif
	:: cq_head_local == cq_tail_seen -> cq_tail_seen = cq_tail   /* peek: load-acquire cq_tail */
	:: cq_head_local != cq_tail_seen ->  /* reap one CQE, then lu_ring_cq_advance(1) */
#ifdef WEAK_CQ_HEAD_RELEASE
		if
		:: cq_head = cq_head_local + 1;  /* head store overtakes the CQE load */
			LOAD_CQE(id, cq_head_local % CQ)
		:: LOAD_CQE(id, cq_head_local % CQ);
			cq_head = cq_head_local + 1
		fi;
#else
		LOAD_CQE(id, cq_head_local % CQ);
		cq_head = cq_head_local + 1;     /* store-release cq_head */
#endif
		d_step {
			assert(id < N);              /* corrupted: not an id we submitted */
			assert(!seen[id]);           /* duplicated (and so some other id is lost) */
			assert(id == produced[reaped]);  /* reordered against the kernel's production */
			seen[id] = true; reaped++; cq_head_local++
		}
	:: atomic { next == N && kdone && cq_head_local == cq_tail && PROMISE_KEPT -> break }
	od;
	assert(reaped == N)                  /* nothing lost */
}

/*
 * The kernel.  One io_submit_sqes batch: load-acquire sq_tail, read every SQE below it, one
 * store-release of sq_head.  Consumed requests complete later, in any order; a CQE goes to the
 * overflow list when the CQ looks full or the list is non-empty (NODROP, FIFO preserved), and
 * cq_head is re-read only when the cached range is exhausted (io_cqe_cache_refill).
 */
active proctype kernel() {
	byte k_head = START, k_tail_seen = START;    /* cached_sq_head, the tail it saw */
	byte k_batch_end;
	byte k_cq_tail = START, k_cq_head_seen = START;  /* cached_cq_tail, the head it saw */
	byte consumed = 0, v, r;
	chan inflight = [N] of { byte };
	chan overflow = [N] of { byte };

	do
	:: consumed < N ->                   /* io_submit_sqes(ctx, nr) */
		k_tail_seen = sq_tail;           /* io_sqring_entries: load-acquire sq_tail */
		if
		:: k_tail_seen != k_head ->
			/* min(nr, entries): the batch may stop short of the tail it saw */
			atomic { select(v : 1 .. FILL(k_tail_seen, k_head)); k_batch_end = k_head + v; v = 0 }
#ifdef WEAK_SQ_HEAD_RELEASE
			if
			:: sq_head = k_batch_end     /* head store overtakes the SQE loads */
			:: skip
			fi;
#endif
			do
			:: k_head != k_batch_end ->  /* io_get_sqe */
				LOAD_SQE(v, k_head % C);
				d_step { inflight!v; k_head++; consumed++; v = 0 }
			:: else -> break
			od;
			sq_head = k_head             /* io_commit_sqring: store-release sq_head */
		:: else
		fi
	:: len(inflight) > 0 ->               /* a request completes: post its CQE */
		if
		:: OVERFLOW_EMPTY && FILL(k_cq_tail, k_cq_head_seen) < CQ ->
			COMPLETE(v); CQE_STORE(k_cq_tail % CQ, v); k_cq_tail++
		:: else ->
			if
			:: k_cq_head_seen = cq_head; /* refill: READ_ONCE(cq_head) + control dependency */
				if
				:: OVERFLOW_EMPTY && FILL(k_cq_tail, k_cq_head_seen) < CQ ->
					COMPLETE(v); CQE_STORE(k_cq_tail % CQ, v); k_cq_tail++
				:: else -> COMPLETE(v); overflow!v
				fi
#ifdef WEAK_CQ_HEAD_ACQUIRE
			:: len(overflow) == 0 ->        /* CQE store overtakes the head load */
				COMPLETE(v); CQE_STORE_NOW(k_cq_tail % CQ, v);
				FILL(k_cq_tail, cq_head) < CQ;
				k_cq_head_seen = cq_head; k_cq_tail++
#endif
			fi
		fi
	:: len(overflow) > 0 ->               /* __io_cqring_overflow_flush */
		k_cq_head_seen = cq_head;
		if
		:: FILL(k_cq_tail, k_cq_head_seen) < CQ ->
			overflow?v; CQE_STORE(k_cq_tail % CQ, v); k_cq_tail++
		:: else
		fi
	:: k_cq_tail != cq_tail -> STORE_CQ_TAIL(k_cq_tail)  /* io_commit_cqring */
	:: atomic { consumed == N && len(inflight) == 0 && len(overflow) == 0 && k_cq_tail == cq_tail ->
		kdone = true; break }
	od
}
