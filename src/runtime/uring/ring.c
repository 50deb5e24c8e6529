/*
 * ring.c - the io_uring SQ/CQ protocol over raw syscalls (no liburing).
 *
 * See ring.h for the protocol.  The trace hook reports each slot access where it happens:
 * uGetSqe where lu_ring_get_sqe takes (and zeroes) the slot, uReap where lu_ring_peek_cqe
 * hands out the CQE to read.  An SQE's user_data is known only once the caller has filled it,
 * so publishing reports it separately (LU_U_FILL_SQE), for the trace writer to complete the
 * uGetSqe line it holds back.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __FRAMAC__
/*
 * The shared indices are plain __u32 in the kernel ABI (struct io_rings), so ring.h exposes
 * them as uint32_t *.  C11 attaches ordering only to operations on _Atomic objects, so every
 * access goes through this view of the same word; it is sound because _Atomic uint32_t has
 * the size, alignment and representation of uint32_t and is lock-free on every Linux ABI
 * (checked below), which is also what the kernel's READ_ONCE/smp_store_release assume.
 */
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "atomic u32 must be a plain u32");
_Static_assert(alignof(_Atomic uint32_t) == alignof(uint32_t), "atomic u32 must be a plain u32");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the shared indices need lock-free atomics");

static inline _Atomic uint32_t *shared_u32(uint32_t *p)
{
	return (_Atomic uint32_t *)p;
}

static inline uint32_t load_acquire(uint32_t *p)
{
	return atomic_load_explicit(shared_u32(p), memory_order_acquire);
}

static inline void store_release(uint32_t *p, uint32_t v)
{
	atomic_store_explicit(shared_u32(p), v, memory_order_release);
}

/* An index only this side writes: no ordering is needed to read back our own store. */
static inline uint32_t load_own(uint32_t *p)
{
	return atomic_load_explicit(shared_u32(p), memory_order_relaxed);
}

/* A flag word the kernel sets: a hint, whose ordering comes from the enter that acts on it. */
static inline uint32_t load_hint(uint32_t *p)
{
	return atomic_load_explicit(shared_u32(p), memory_order_relaxed);
}
#else
/*
 * Frama-C's WP has no model of _Atomic (nor of _Alignof): it checks the protocol on plain
 * accesses to the same words, one thread at a time.  What a load may see and what the orderings
 * guarantee are proved elsewhere: L2's visibility through indices and spin/ring.pml.
 */
/*@ requires \valid_read(p); assigns \nothing; ensures \result == *p; */
static inline uint32_t load_acquire(uint32_t *p)
{
	return *p;
}

/*@ requires \valid(p); assigns *p; ensures *p == v; */
static inline void store_release(uint32_t *p, uint32_t v)
{
	*p = v;
}

/*@ requires \valid_read(p); assigns \nothing; ensures \result == *p; */
static inline uint32_t load_own(uint32_t *p)
{
	return *p;
}

/*@ requires \valid_read(p); assigns \nothing; ensures \result == *p; */
static inline uint32_t load_hint(uint32_t *p)
{
	return *p;
}
#endif

/*
 * WP takes this contract on trust (spec/wp/ proves no body that calls through a pointer): a
 * trace callback records, it never touches the ring.
 */
/*@ requires \valid_read(ring); assigns \nothing; */
static inline void trace(const struct lu_ring *ring, enum lu_ring_action action, uint32_t index,
			 uint64_t user_data)
{
	if (ring->trace)
		ring->trace(ring->trace_ctx, action, index, user_data);
}

static bool is_pow2(unsigned n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* Point the ring at its shared words; both real and software rings are described by offsets. */
static void attach(struct lu_ring *ring, char *sq_ring, char *cq_ring, struct io_uring_sqe *sqes,
		   const struct io_sqring_offsets *so, const struct io_cqring_offsets *co,
		   uint32_t sq_capacity, uint32_t cq_capacity)
{
	struct lu_sq *sq = &ring->sq;
	struct lu_cq *cq = &ring->cq;

	sq->sq_head = (uint32_t *)(sq_ring + so->head);
	sq->sq_tail = (uint32_t *)(sq_ring + so->tail);
	sq->flags = (uint32_t *)(sq_ring + so->flags);
	sq->dropped = (uint32_t *)(sq_ring + so->dropped);
	sq->array = (uint32_t *)(sq_ring + so->array);
	sq->sqes = sqes;
	sq->capacity = sq_capacity;
	sq->mask = sq_capacity - 1;
	sq->sqe_tail = load_own(sq->sq_tail);
	sq->head_seen = load_acquire(sq->sq_head);
	/* Slot i always carries SQE i, so a slot is reusable exactly when sq_head passes it. */
	for (uint32_t i = 0; i < sq_capacity; i++)
		sq->array[i] = i;

	cq->cq_head = (uint32_t *)(cq_ring + co->head);
	cq->cq_tail = (uint32_t *)(cq_ring + co->tail);
	cq->overflow = (uint32_t *)(cq_ring + co->overflow);
	cq->cqes = (struct io_uring_cqe *)(cq_ring + co->cqes);
	cq->capacity = cq_capacity;
	cq->mask = cq_capacity - 1;
}

static int setup(unsigned entries, uint32_t flags, struct io_uring_params *p)
{
	memset(p, 0, sizeof(*p));
	p->flags = flags;
	long fd = syscall(__NR_io_uring_setup, entries, p);
	if (fd < 0)
		return -errno;
	if (fd > STDERR_FILENO)
		return (int)fd;
	/* A standard descriptor was closed and the ring took its number: move the ring away. */
	int moved = fcntl((int)fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	int err = moved < 0 ? -errno : moved;
	close((int)fd);
	return err;
}

int lu_ring_register(const struct lu_ring *ring, unsigned opcode, void *arg, unsigned nr)
{
	unsigned use_index = ring->enter_flags & IORING_ENTER_REGISTERED_RING ?
				     IORING_REGISTER_USE_REGISTERED_RING : 0;
	long ret = syscall(__NR_io_uring_register, ring->enter_fd, opcode | use_index, arg, nr);
	return ret < 0 ? -errno : (int)ret;
}

int lu_ring_init(struct lu_ring *ring, unsigned entries, uint32_t flags)
{
	const uint32_t deferred = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	const uint32_t coop = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	/* Older kernels reject flags they do not know with EINVAL: degrade newest first. */
	const uint32_t tries[] = { flags, flags & ~deferred, flags & ~(deferred | coop), 0 };
	struct io_uring_params p;
	int fd = -EINVAL;

	memset(ring, 0, sizeof(*ring));
	ring->fd = ring->enter_fd = -1;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && fd == -EINVAL; i++) {
		if (i > 0 && tries[i] == tries[i - 1])
			continue;
		fd = setup(entries, tries[i], &p);
	}
	if (fd < 0)
		return fd;

	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	bool single = p.features & IORING_FEAT_SINGLE_MMAP;
	if (single && cq_len > sq_len)
		sq_len = cq_len;
	if (single)
		cq_len = sq_len;
	size_t sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	const int prot = PROT_READ | PROT_WRITE, map = MAP_SHARED | MAP_POPULATE;

	void *sq_map = mmap(NULL, sq_len, prot, map, fd, IORING_OFF_SQ_RING);
	void *cq_map = MAP_FAILED, *sqe_map = MAP_FAILED;
	if (sq_map != MAP_FAILED)
		cq_map = single ? sq_map : mmap(NULL, cq_len, prot, map, fd, IORING_OFF_CQ_RING);
	if (cq_map != MAP_FAILED)
		sqe_map = mmap(NULL, sqe_len, prot, map, fd, IORING_OFF_SQES);
	if (sqe_map == MAP_FAILED) {
		int err = -errno;
		if (cq_map != MAP_FAILED && cq_map != sq_map)
			munmap(cq_map, cq_len);
		if (sq_map != MAP_FAILED)
			munmap(sq_map, sq_len);
		close(fd);
		return err;
	}

	ring->fd = ring->enter_fd = fd;
	ring->setup_flags = p.flags;
	ring->features = p.features;
	ring->sq_map = sq_map;
	ring->cq_map = cq_map;
	ring->sqe_map = sqe_map;
	ring->sq_map_len = sq_len;
	ring->cq_map_len = cq_len;
	ring->sqe_map_len = sqe_len;
	attach(ring, sq_map, cq_map, sqe_map, &p.sq_off, &p.cq_off, p.sq_entries, p.cq_entries);
	return 0;
}

int lu_ring_register_ring_fd(struct lu_ring *ring)
{
	struct io_uring_rsrc_update up = { .offset = -1U, .data = (uint64_t)ring->fd };

	if (ring->fd < 0 || ring->enter_flags & IORING_ENTER_REGISTERED_RING)
		return -EINVAL;
	int ret = lu_ring_register(ring, IORING_REGISTER_RING_FDS, &up, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	ring->enter_fd = (int)up.offset;
	ring->enter_flags = IORING_ENTER_REGISTERED_RING;
	/* The mappings keep the ring alive; only an older kernel still needs the fd to register. */
	if (ring->features & IORING_FEAT_REG_REG_RING) {
		close(ring->fd);
		ring->fd = -1;
	}
	return 0;
}

/*
 * The ring goes when its last reference does: the fd, the registered index and the mappings
 * each hold one.  Unregistering is per thread, so a forked child's copy of a registration
 * (which it does not have) is never touched: only the registering thread calls this with the
 * index set, and a child's drop path clears it first.
 */
void lu_ring_exit(struct lu_ring *ring)
{
	if (ring->sq_map) {
		if (ring->enter_flags & IORING_ENTER_REGISTERED_RING) {
			struct io_uring_rsrc_update up = { .offset = (uint32_t)ring->enter_fd };
			lu_ring_register(ring, IORING_UNREGISTER_RING_FDS, &up, 1);
		}
		munmap(ring->sqe_map, ring->sqe_map_len);
		if (ring->cq_map != ring->sq_map)
			munmap(ring->cq_map, ring->cq_map_len);
		munmap(ring->sq_map, ring->sq_map_len);
		if (ring->fd >= 0)
			close(ring->fd);
	}
	memset(ring, 0, sizeof(*ring));
	ring->fd = ring->enter_fd = -1;
}

/*
 * A forked child shares the parent's mappings and inherits its fd, but not its registered
 * indices (they live in the parent thread's io_uring context): drop the mappings and the fd
 * without unregistering anything.
 */
void lu_ring_forget(struct lu_ring *ring)
{
	ring->enter_flags = 0;
	lu_ring_exit(ring);
}

/*
 * Software ring layout: the seven shared words, then sq_array, SQEs and CQEs, each at a
 * 64-byte boundary (SQEs and CQEs hold u64 fields; 64 keeps them off the index cache line).
 */
enum { SW_SQ_HEAD = 0, SW_SQ_TAIL = 4, SW_SQ_FLAGS = 8, SW_SQ_DROPPED = 12, SW_CQ_HEAD = 16,
       SW_CQ_TAIL = 20, SW_CQ_OVERFLOW = 24, SW_ARRAY = 64 };

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static size_t sw_sqes_off(unsigned sq_capacity)
{
	return align64(SW_ARRAY + (size_t)sq_capacity * sizeof(uint32_t));
}

static size_t sw_cqes_off(unsigned sq_capacity)
{
	return sw_sqes_off(sq_capacity) + (size_t)sq_capacity * sizeof(struct io_uring_sqe);
}

size_t lu_ring_mem_size(unsigned sq_capacity, unsigned cq_capacity)
{
	return sw_cqes_off(sq_capacity) + (size_t)cq_capacity * sizeof(struct io_uring_cqe);
}

int lu_ring_init_mem(struct lu_ring *ring, void *mem, unsigned sq_capacity, unsigned cq_capacity,
		     uint32_t start)
{
	if (!is_pow2(sq_capacity) || sq_capacity > 32768 || !is_pow2(cq_capacity) ||
	    cq_capacity > 65536 || ((uintptr_t)mem & 7) != 0)
		return -EINVAL;
	memset(mem, 0, lu_ring_mem_size(sq_capacity, cq_capacity));
	char *base = mem;
	const uint32_t starts[] = { SW_SQ_HEAD, SW_SQ_TAIL, SW_CQ_HEAD, SW_CQ_TAIL };
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		store_release((uint32_t *)(base + starts[i]), start);

	struct io_sqring_offsets so = { .head = SW_SQ_HEAD, .tail = SW_SQ_TAIL,
					.flags = SW_SQ_FLAGS, .dropped = SW_SQ_DROPPED,
					.array = SW_ARRAY };
	struct io_cqring_offsets co = { .head = SW_CQ_HEAD, .tail = SW_CQ_TAIL,
					.overflow = SW_CQ_OVERFLOW,
					.cqes = (uint32_t)sw_cqes_off(sq_capacity) };
	memset(ring, 0, sizeof(*ring));
	ring->fd = ring->enter_fd = -1;
	attach(ring, base, base, (struct io_uring_sqe *)(base + sw_sqes_off(sq_capacity)), &so, &co,
	       sq_capacity, cq_capacity);
	return 0;
}

/*@
  axiomatic lu_mask {
    // `x & mask` is the model's slot `x % cap` (spec/Ring/U32.lean's slot_u32 has only the %
    // form).  WP's provers cannot do this bit arithmetic on integers: spec/wp/mask.mlw proves
    // it for each capacity on 32-bit vectors, and spec/wp/run.sh runs that proof too.
    // Stated on the mask, not on cap - 1, so that provers match it against `x & mask`.
    axiom mask_slot:
      \forall integer x, mask; 0 <= x <= 0xffffffff && lu_pow2(mask + 1) ==>
        (x & mask) == lu_slot(mask + 1, x);
    // Qed reorders the operands of `&` (an AC symbol) by its own term order, so a loop's
    // `i & mask` reaches z3 the other way round from mask_slot's pattern, which then never
    // fires.  This bound is symmetric, so it matches either way, and keeps a slot in range;
    // mask.mlw proves it on 32-bit vectors too.
    axiom mask_bound:
      \forall integer x, mask; 0 <= x <= 0xffffffff && 0 <= mask <= 0xffffffff ==>
        0 <= (x & mask) <= mask && (x & mask) <= x;
  }
*/

/*
 * Zeroes all 64 bytes, as memset would (and compiles to the same stores): the SQE has no
 * padding and each union's first member spans the union.  Not memset because WP cannot follow
 * its char view of the SQE; a function of its own because WP then proves the struct store
 * once, and lu_ring_get_sqe's frame through `assigns *sqe` only (inline, z3 gives up on it).
 */
/*@ requires \valid(sqe); assigns *sqe; */
static inline void zero_sqe(struct io_uring_sqe *sqe)
{
	*sqe = (struct io_uring_sqe){ 0 };
}

struct io_uring_sqe *lu_ring_get_sqe(struct lu_ring *ring)
{
	struct lu_sq *sq = &ring->sq;

	/* The cached head is enough until it says "full"; only then look at the kernel's. */
	if (sq->sqe_tail - sq->head_seen >= sq->capacity) {
		sq->head_seen = load_acquire(sq->sq_head);
		trace(ring, LU_U_LOAD_HEAD, sq->head_seen, 0);
		if (sq->sqe_tail - sq->head_seen >= sq->capacity)
			return NULL;
	}
	struct io_uring_sqe *sqe = &sq->sqes[sq->sqe_tail & sq->mask];
	trace(ring, LU_U_GET_SQE, sq->sqe_tail, 0);
	sq->sqe_tail++;
	zero_sqe(sqe);
	return sqe;
}

uint32_t lu_ring_publish_sq(struct lu_ring *ring)
{
	struct lu_sq *sq = &ring->sq;
	uint32_t tail = load_own(sq->sq_tail);

	if (tail != sq->sqe_tail) {
		if (ring->trace)
			/*@ loop invariant (uint32_t)(i - tail) <= (uint32_t)(sq->sqe_tail - tail);
			    loop assigns i;
			    loop variant (uint32_t)(sq->sqe_tail - i); */
			for (uint32_t i = tail; i != sq->sqe_tail; i++)
				trace(ring, LU_U_FILL_SQE, i, sq->sqes[i & sq->mask].user_data);
		store_release(sq->sq_tail, sq->sqe_tail);
		trace(ring, LU_U_PUBLISH, sq->sqe_tail, 0);
	}
	sq->head_seen = load_acquire(sq->sq_head);
	trace(ring, LU_U_LOAD_HEAD, sq->head_seen, 0);
	return sq->sqe_tail - sq->head_seen;
}

uint32_t lu_ring_sq_pending(const struct lu_ring *ring)
{
	uint32_t head = load_acquire(ring->sq.sq_head);
	trace(ring, LU_U_LOAD_HEAD, head, 0);
	return load_own(ring->sq.sq_tail) - head;
}

int lu_ring_enter(struct lu_ring *ring, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	if (ring->enter_fd < 0)
		return -EBADF;
	/* Waiting needs GETEVENTS; under DEFER_TASKRUN it is also what runs the completions. */
	if (min_complete > 0)
		flags |= IORING_ENTER_GETEVENTS;
	long ret = syscall(__NR_io_uring_enter, ring->enter_fd, to_submit, min_complete,
			   flags | ring->enter_flags, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

struct io_uring_cqe *lu_ring_peek_cqe(struct lu_ring *ring)
{
	struct lu_cq *cq = &ring->cq;
	uint32_t head = load_own(cq->cq_head);
	uint32_t tail = load_acquire(cq->cq_tail);

	trace(ring, LU_U_LOAD_CQ_TAIL, tail, 0);
	if (head == tail)
		return NULL;
	trace(ring, LU_U_REAP, head, cq->cqes[head & cq->mask].user_data);
	return &cq->cqes[head & cq->mask];
}

uint32_t lu_ring_cq_ready(const struct lu_ring *ring)
{
	uint32_t tail = load_acquire(ring->cq.cq_tail);

	trace(ring, LU_U_LOAD_CQ_TAIL, tail, 0);
	return tail - load_own(ring->cq.cq_head);
}

void lu_ring_cq_advance(struct lu_ring *ring, uint32_t n)
{
	struct lu_cq *cq = &ring->cq;
	uint32_t head = load_own(cq->cq_head);

	if (n == 0)
		return;
	/* A CQE read straight from the array, not through peek, is reported here, late. */
	if (ring->trace)
		/*@ loop invariant (uint32_t)(j - head) <= n;
		    loop assigns j;
		    loop variant (uint32_t)(head + n - j); */
		for (uint32_t j = head; j != head + n; j++)
			trace(ring, LU_U_REAP, j, cq->cqes[j & cq->mask].user_data);
	/* Release: our reads of these CQEs happen before the kernel may overwrite them. */
	store_release(cq->cq_head, head + n);
	trace(ring, LU_U_CQ_ADVANCE, head + n, 0);
}

bool lu_ring_cq_overflowed(const struct lu_ring *ring)
{
	/* A hint only: entering with GETEVENTS is what synchronises with the flush. */
	return load_hint(ring->sq.flags) & IORING_SQ_CQ_OVERFLOW;
}

int lu_ring_probe(struct lu_ring *ring, struct lu_ring_opcodes *out)
{
	enum { MAX_OPS = 256 };
	alignas(struct io_uring_probe) unsigned char
		buf[sizeof(struct io_uring_probe) + MAX_OPS * sizeof(struct io_uring_probe_op)];
	struct io_uring_probe *probe = (struct io_uring_probe *)buf;

	memset(out, 0, sizeof(*out));
	if (ring->enter_fd < 0)
		return -EBADF;
	memset(buf, 0, sizeof(buf));
	int ret = lu_ring_register(ring, IORING_REGISTER_PROBE, probe, MAX_OPS);
	if (ret < 0)
		return ret;
	for (unsigned op = 0; op <= probe->last_op && op < MAX_OPS; op++)
		if (probe->ops[op].flags & IO_URING_OP_SUPPORTED)
			out->supported[op / 64] |= UINT64_C(1) << (op % 64);
	return 0;
}

bool lu_ring_opcodes_has(const struct lu_ring_opcodes *probe, unsigned opcode)
{
	return opcode < 256 && (probe->supported[opcode / 64] >> (opcode % 64) & 1);
}
