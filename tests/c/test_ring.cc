// The ring protocol (ring.c) against the real kernel, liburing as an oracle, and the software
// kernel twin (fake_kernel.h) for what the kernel cannot be made to do on demand (u32 wrap,
// arbitrary interleavings).
#include <gtest/gtest.h>
#include <liburing.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_kernel.h"
#include "ring.h"

namespace {

const uint32_t kBestFlags =
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;

struct Ring {
	lu_ring r;
	explicit Ring(unsigned entries, uint32_t flags = 0)
	{
		int err = lu_ring_init(&r, entries, flags);
		if (err < 0)
			ADD_FAILURE() << "lu_ring_init: " << err;
	}
	~Ring() { lu_ring_exit(&r); }
};

struct TempFile {
	std::string path;
	int fd;
	TempFile()
	{
		char tmpl[] = "/tmp/lu-ring-XXXXXX";
		fd = mkstemp(tmpl);
		path = tmpl;
	}
	~TempFile()
	{
		close(fd);
		unlink(path.c_str());
	}
};

uint32_t sq_flags(const lu_ring &r)
{
	return __atomic_load_n(r.sq.flags, __ATOMIC_RELAXED);
}

// Reap everything currently posted (flushing the kernel's overflow list on the way).
void reap_all(lu_ring *r, std::vector<io_uring_cqe> *out)
{
	for (;;) {
		while (io_uring_cqe *c = lu_ring_peek_cqe(r)) {
			out->push_back(*c);
			lu_ring_cq_advance(r, 1);
		}
		if (!lu_ring_cq_overflowed(r))
			return;
		ASSERT_GE(lu_ring_enter(r, 0, 0, IORING_ENTER_GETEVENTS), 0);
	}
}

class RingSizes : public ::testing::TestWithParam<uint32_t> {};

// The SQ hands out exactly `capacity` entries, then NULL; every NOP completes exactly once,
// and the same holds on the second lap, when every slot is reused.
TEST_P(RingSizes, FillSubmitReapExactlyOnce)
{
	for (unsigned entries = 1; entries <= 4096; entries *= 2) {
		SCOPED_TRACE(entries);
		Ring ring(entries, GetParam());
		lu_ring *r = &ring.r;
		ASSERT_EQ(r->sq.capacity, entries);
		ASSERT_EQ(r->cq.capacity, 2 * entries);
		uint64_t next = 0;
		for (int lap = 0; lap < 2; lap++) {
			uint64_t first = next;
			for (unsigned i = 0; i < entries; i++) {
				io_uring_sqe *sqe = lu_ring_get_sqe(r);
				ASSERT_NE(sqe, nullptr) << "slot " << i;
				sqe->opcode = IORING_OP_NOP;
				sqe->user_data = next++;
			}
			ASSERT_EQ(lu_ring_get_sqe(r), nullptr);
			ASSERT_EQ(lu_ring_publish_sq(r), entries);
			ASSERT_EQ(lu_ring_enter(r, entries, entries, 0), (int)entries);
			ASSERT_EQ(lu_ring_sq_pending(r), 0u);
			std::vector<io_uring_cqe> cqes;
			reap_all(r, &cqes);
			ASSERT_EQ(cqes.size(), entries);
			std::set<uint64_t> seen;
			for (const io_uring_cqe &c : cqes) {
				EXPECT_EQ(c.res, 0);
				EXPECT_GE(c.user_data, first);
				EXPECT_LT(c.user_data, next);
				EXPECT_TRUE(seen.insert(c.user_data).second) << c.user_data;
			}
			EXPECT_EQ(lu_ring_cq_ready(r), 0u);
		}
	}
}

INSTANTIATE_TEST_SUITE_P(Flags, RingSizes, ::testing::Values(0u, kBestFlags));

TEST(Ring, SetupFallsBackOnRejectedFlags)
{
	// DEFER_TASKRUN without SINGLE_ISSUER is EINVAL: the first fallback drops both.
	Ring a(8, IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN);
	EXPECT_EQ(a.r.setup_flags, (uint32_t)IORING_SETUP_COOP_TASKRUN);
	// A flag no kernel knows is rejected by every try but the last, flagless one.
	Ring b(8, kBestFlags | (1u << 31));
	EXPECT_EQ(b.r.setup_flags, 0u);
	EXPECT_GE(b.r.fd, 0);
	// The full set is accepted as is on this kernel.
	Ring c(8, kBestFlags);
	EXPECT_EQ(c.r.setup_flags, kBestFlags);
}

TEST(Ring, SetupReportsOtherErrors)
{
	lu_ring r;
	EXPECT_EQ(lu_ring_init(&r, 0, 0), -EINVAL);
	EXPECT_EQ(lu_ring_init(&r, 1u << 20, 0), -EINVAL);  // above IORING_MAX_ENTRIES, no CLAMP
	EXPECT_EQ(r.fd, -1);
}

TEST(Ring, Probe)
{
	Ring ring(4);
	lu_ring_opcodes probe;
	ASSERT_EQ(lu_ring_probe(&ring.r, &probe), 0);
	EXPECT_TRUE(lu_ring_opcodes_has(&probe, IORING_OP_NOP));
	EXPECT_TRUE(lu_ring_opcodes_has(&probe, IORING_OP_READ));
	EXPECT_TRUE(lu_ring_opcodes_has(&probe, IORING_OP_SOCKET));
	EXPECT_FALSE(lu_ring_opcodes_has(&probe, 255));
	EXPECT_FALSE(lu_ring_opcodes_has(&probe, 1000));
	// The same answers through the registered index, once the plain fd is gone.
	ASSERT_EQ(lu_ring_register_ring_fd(&ring.r), 0);
	lu_ring_opcodes again;
	ASSERT_EQ(lu_ring_probe(&ring.r, &again), 0);
	EXPECT_EQ(memcmp(&probe, &again, sizeof probe), 0);
}

// A registered ring works through its index alone: where the kernel registers through the
// index (6.3), the plain fd is closed and the ring occupies no descriptor.
TEST(Ring, RegisteredRingNeedsNoDescriptor)
{
	Ring ring(8);
	const int fd = ring.r.fd;
	ASSERT_GE(fd, 3);
	ASSERT_EQ(lu_ring_register_ring_fd(&ring.r), 0);
	EXPECT_EQ(lu_ring_register_ring_fd(&ring.r), -EINVAL) << "registered twice";
	EXPECT_EQ(ring.r.enter_flags, (uint32_t)IORING_ENTER_REGISTERED_RING);
	if (ring.r.features & IORING_FEAT_REG_REG_RING) {
		EXPECT_EQ(ring.r.fd, -1);
		EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "the plain fd is closed";
	}
	for (int i = 0; i < 3; i++) {
		io_uring_sqe *sqe = lu_ring_get_sqe(&ring.r);
		ASSERT_NE(sqe, nullptr);
		sqe->opcode = IORING_OP_NOP;
		sqe->user_data = 100 + i;
	}
	EXPECT_EQ(lu_ring_enter(&ring.r, lu_ring_publish_sq(&ring.r), 3, 0), 3);
	for (int i = 0; i < 3; i++) {
		io_uring_cqe *cqe = lu_ring_peek_cqe(&ring.r);
		ASSERT_NE(cqe, nullptr);
		EXPECT_EQ(cqe->user_data, (uint64_t)(100 + i));
		lu_ring_cq_advance(&ring.r, 1);
	}
}

// With 0, 1 and 2 closed (prog <&- >&- 2>&-) the kernel would hand the ring fd 0: the ring
// moves above the standard descriptors, which stay free for the program's own opens.
TEST(Ring, NeverTakesAStandardDescriptor)
{
	pid_t pid = fork();
	if (pid == 0) {
		close(0);
		close(1);
		close(2);
		lu_ring r;
		int bad = 0;
		for (int i = 0; i < 4; i++) {
			if (lu_ring_init(&r, 4, 0) != 0 || r.fd <= 2)
				bad |= 1;
			else if (fcntl(r.fd, F_GETFD) != FD_CLOEXEC)
				bad |= 2;
			if (fcntl(0, F_GETFD) != -1 || fcntl(1, F_GETFD) != -1 ||
			    fcntl(2, F_GETFD) != -1)
				bad |= 4;
			lu_ring_exit(&r);
		}
		_exit(bad);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "1: ring on a standard fd, 2: not cloexec, "
					     "4: a standard fd was left open";
}

// More NOPs than the CQ holds, none reaped: the kernel keeps the excess on its overflow list
// (NODROP), says so in sq flags, and hands every CQE over, in order, once there is room.
TEST(Ring, CqOverflowLosesNothing)
{
	for (uint32_t flags : { 0u, kBestFlags }) {
		SCOPED_TRACE(flags);
		Ring ring(4, flags);
		lu_ring *r = &ring.r;
		ASSERT_TRUE(r->features & IORING_FEAT_NODROP);
		const unsigned total = 6 * r->sq.capacity;
		ASSERT_GT(total, r->cq.capacity);
		uint64_t next = 0;
		while (next < total) {
			while (next < total) {
				io_uring_sqe *sqe = lu_ring_get_sqe(r);
				if (!sqe)
					break;
				sqe->opcode = IORING_OP_NOP;
				sqe->user_data = next++;
			}
			uint32_t pending = lu_ring_publish_sq(r);
			ASSERT_EQ(lu_ring_enter(r, pending, 0, IORING_ENTER_GETEVENTS), (int)pending);
		}
		EXPECT_TRUE(sq_flags(*r) & IORING_SQ_CQ_OVERFLOW);
		EXPECT_TRUE(lu_ring_cq_overflowed(r));
		EXPECT_EQ(lu_ring_cq_ready(r), r->cq.capacity);

		std::vector<io_uring_cqe> cqes;
		reap_all(r, &cqes);
		ASSERT_EQ(cqes.size(), total);
		for (unsigned i = 0; i < total; i++)
			EXPECT_EQ(cqes[i].user_data, i) << "CQ order is submission order for NOPs";
		EXPECT_FALSE(lu_ring_cq_overflowed(r));
		EXPECT_EQ(*r->cq.overflow, 0u);
		EXPECT_EQ(*r->sq.dropped, 0u);
	}
}

// ---- differential: the same operations through our ring and through liburing ----

struct Op {
	uint8_t opcode;
	bool bad_fd;
	uint32_t len;
	uint64_t off;
	uint64_t user_data;
};

std::vector<Op> make_ops(std::mt19937 *rng, unsigned n, uint8_t io_opcode)
{
	std::vector<Op> ops;
	for (unsigned i = 0; i < n; i++) {
		Op op{};
		unsigned pick = (*rng)() % 8;
		op.opcode = pick == 0 ? IORING_OP_NOP : io_opcode;
		op.bad_fd = pick == 1;
		op.len = 1 + (*rng)() % 300;
		// Reads may start past what was written, so short reads and EOF are compared too.
		op.off = (*rng)() % 4096;
		op.user_data = ((uint64_t)(*rng)() << 20) ^ i;  // unique: low bits are i < 2^20
		ops.push_back(op);
	}
	return ops;
}

struct Outcome {
	std::map<uint64_t, int32_t> res;
	std::map<uint64_t, std::string> data;
};

void fill_sqe(io_uring_sqe *sqe, const Op &op, int fd, char *buf)
{
	sqe->opcode = op.opcode;
	sqe->user_data = op.user_data;
	if (op.opcode == IORING_OP_NOP)
		return;
	sqe->fd = op.bad_fd ? -1 : fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = op.len;
	sqe->off = op.off;
}

std::string pattern(const Op &op)
{
	std::string s(op.len, '\0');
	for (uint32_t i = 0; i < op.len; i++)
		s[i] = (char)('a' + (op.user_data + i) % 26);
	return s;
}

// Runs `ops` in batches of `batch` through our ring; read buffers are returned by user_data.
Outcome run_ours(const std::vector<Op> &ops, int fd, unsigned entries, unsigned batch)
{
	Outcome out;
	Ring ring(entries, kBestFlags);
	lu_ring *r = &ring.r;
	std::vector<std::string> bufs(ops.size());
	for (size_t i = 0; i < ops.size(); i += batch) {
		size_t end = std::min(ops.size(), i + batch);
		for (size_t j = i; j < end; j++) {
			bufs[j] = ops[j].opcode == IORING_OP_WRITE ? pattern(ops[j])
								    : std::string(ops[j].len, '\0');
			io_uring_sqe *sqe = lu_ring_get_sqe(r);
			EXPECT_NE(sqe, nullptr);
			if (!sqe)
				return out;
			fill_sqe(sqe, ops[j], fd, &bufs[j][0]);
		}
		uint32_t n = lu_ring_publish_sq(r);
		EXPECT_EQ(lu_ring_enter(r, n, (unsigned)(end - i), 0), (int)n);
		std::vector<io_uring_cqe> cqes;
		reap_all(r, &cqes);
		EXPECT_EQ(cqes.size(), end - i);
		for (const io_uring_cqe &c : cqes)
			EXPECT_TRUE(out.res.emplace(c.user_data, c.res).second);
	}
	for (size_t j = 0; j < ops.size(); j++)
		if (ops[j].opcode == IORING_OP_READ)
			out.data[ops[j].user_data] = bufs[j];
	return out;
}

Outcome run_liburing(const std::vector<Op> &ops, int fd, unsigned entries, unsigned batch)
{
	Outcome out;
	io_uring ring;
	EXPECT_EQ(io_uring_queue_init(entries, &ring, 0), 0);
	std::vector<std::string> bufs(ops.size());
	for (size_t i = 0; i < ops.size(); i += batch) {
		size_t end = std::min(ops.size(), i + batch);
		for (size_t j = i; j < end; j++) {
			bufs[j] = ops[j].opcode == IORING_OP_WRITE ? pattern(ops[j])
								    : std::string(ops[j].len, '\0');
			io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			EXPECT_NE(sqe, nullptr);
			memset(sqe, 0, sizeof(*sqe));
			fill_sqe(sqe, ops[j], fd, &bufs[j][0]);
		}
		EXPECT_EQ(io_uring_submit_and_wait(&ring, (unsigned)(end - i)), (int)(end - i));
		for (size_t k = i; k < end; k++) {
			io_uring_cqe *c;
			EXPECT_EQ(io_uring_wait_cqe(&ring, &c), 0);
			EXPECT_TRUE(out.res.emplace(c->user_data, c->res).second);
			io_uring_cqe_seen(&ring, c);
		}
	}
	io_uring_queue_exit(&ring);
	for (size_t j = 0; j < ops.size(); j++)
		if (ops[j].opcode == IORING_OP_READ)
			out.data[ops[j].user_data] = bufs[j];
	return out;
}

std::string file_contents(int fd)
{
	std::string s(8192, '\0');
	ssize_t n = pread(fd, &s[0], s.size(), 0);
	s.resize(n < 0 ? 0 : (size_t)n);
	return s;
}

TEST(RingDifferential, SameResultsAsLiburing)
{
	std::mt19937 rng(20260721);
	for (unsigned entries : { 1u, 2u, 8u }) {
		for (unsigned batch : { 1u, 3u, 8u }) {
			if (batch > entries)
				continue;
			SCOPED_TRACE(testing::Message() << entries << "/" << batch);
			// Writes are serialised per batch only by their offsets; overlapping writes
			// in one batch could land in either order, so each batch's ranges differ.
			std::vector<Op> writes = make_ops(&rng, 60, IORING_OP_WRITE);
			for (size_t i = 0; i < writes.size(); i++)
				writes[i].off = (i % 8) * 512 + (rng() % 200);
			std::vector<Op> reads = make_ops(&rng, 60, IORING_OP_READ);

			TempFile ours, theirs;
			Outcome w1 = run_ours(writes, ours.fd, entries, batch);
			Outcome w2 = run_liburing(writes, theirs.fd, entries, batch);
			EXPECT_EQ(w1.res, w2.res);
			EXPECT_EQ(w1.res.size(), writes.size());
			ASSERT_EQ(file_contents(ours.fd), file_contents(theirs.fd));
			EXPECT_GT(file_contents(ours.fd).size(), 512u);

			Outcome r1 = run_ours(reads, ours.fd, entries, batch);
			Outcome r2 = run_liburing(reads, theirs.fd, entries, batch);
			EXPECT_EQ(r1.res, r2.res);
			EXPECT_EQ(r1.data, r2.data);
			std::set<int32_t> kinds;
			for (auto &kv : r1.res)
				kinds.insert(kv.second < 0 ? kv.second : kv.second > 0 ? 1 : 0);
			EXPECT_TRUE(kinds.count(-EBADF)) << "the mix exercises error results";
		}
	}
}

// ---- the software ring and the fake kernel ----

struct SoftRing {
	void *mem;
	lu_ring r;
	lu_fake_kernel k;
	SoftRing(unsigned sq_cap, unsigned cq_cap, uint32_t start)
	{
		size_t size = lu_ring_mem_size(sq_cap, cq_cap);
		mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
		EXPECT_EQ(lu_ring_init_mem(&r, mem, sq_cap, cq_cap, start), 0);
		lu_fk_init(&k, &r);
	}
	~SoftRing()
	{
		lu_fk_destroy(&k);
		lu_ring_exit(&r);
		free(mem);
	}
};

TEST(SoftRing, RejectsBadGeometry)
{
	alignas(64) static char mem[1 << 16];
	lu_ring r;
	EXPECT_EQ(lu_ring_init_mem(&r, mem, 3, 4, 0), -EINVAL);
	EXPECT_EQ(lu_ring_init_mem(&r, mem, 4, 0, 0), -EINVAL);
	EXPECT_EQ(lu_ring_init_mem(&r, mem + 1, 4, 4, 0), -EINVAL);
	ASSERT_EQ(lu_ring_init_mem(&r, mem, 4, 8, 7), 0);
	EXPECT_EQ(*r.sq.sq_head, 7u);
	EXPECT_EQ(*r.cq.cq_tail, 7u);
	EXPECT_EQ(lu_ring_enter(&r, 1, 0, 0), -EBADF);
	lu_ring_opcodes probe;
	EXPECT_EQ(lu_ring_probe(&r, &probe), -EBADF);
	EXPECT_FALSE(lu_ring_opcodes_has(&probe, IORING_OP_NOP));
}

// Records what the fake kernel did, for the order checks.
struct KernelLog {
	std::vector<uint64_t> consumed;  // kGetSqe, in order
	std::vector<uint64_t> posted;    // kPost and kFlush, in CQ order
	std::set<uint64_t> overflowed;
	std::map<uint64_t, int32_t> overflow_res;
	static void hook(void *ctx, lu_fk_action a, uint32_t, uint64_t ud, int32_t res)
	{
		KernelLog *log = static_cast<KernelLog *>(ctx);
		if (a == LU_K_GET_SQE)
			log->consumed.push_back(ud);
		if (a == LU_K_POST || a == LU_K_FLUSH)
			log->posted.push_back(ud);
		if (a == LU_K_OVERFLOW)
			log->overflowed.insert(ud), log->overflow_res[ud] = res;
	}
};

int32_t expected_res(uint64_t id)
{
	return (int32_t)((id * 7) % 1000);
}

struct WrapCase {
	unsigned sq_cap, cq_cap;
	uint32_t start;
};

class SoftRingWrap : public ::testing::TestWithParam<WrapCase> {};

// Random interleavings of every user and kernel step across the u32 wrap: the kernel consumes
// the submissions in order, every id is reaped exactly once with its result, and in the order
// the kernel put CQEs into the CQ.
TEST_P(SoftRingWrap, RandomInterleavingsExactlyOnceFifo)
{
	const WrapCase wc = GetParam();
	unsigned runs_with_overflow = 0;
	for (unsigned seed = 1; seed <= 20; seed++) {
		SCOPED_TRACE(seed);
		std::mt19937 rng(seed * 7919 + wc.sq_cap * 31 + wc.cq_cap);
		SoftRing s(wc.sq_cap, wc.cq_cap, wc.start);
		KernelLog log;
		s.k.trace = KernelLog::hook;
		s.k.trace_ctx = &log;
		lu_ring *r = &s.r;
		const uint64_t total = 3 * (wc.sq_cap + wc.cq_cap) + 40;
		uint64_t next = 0;
		std::vector<uint64_t> reaped;
		bool overflow_seen = false;
		for (int step = 0; reaped.size() < total; step++) {
			ASSERT_LT(step, 200000) << "no progress";
			unsigned pick = rng() % 12;
			switch (pick) {
			case 0:
			case 1:
				if (next < total) {
					io_uring_sqe *sqe = lu_ring_get_sqe(r);
					uint32_t used = r->sq.sqe_tail - *r->sq.sq_head;
					if (!sqe) {
						ASSERT_EQ(used, wc.sq_cap) << "NULL only when full";
						break;
					}
					ASSERT_LE(used, wc.sq_cap);
					sqe->opcode = IORING_OP_NOP;
					sqe->user_data = next;
					sqe->len = (uint32_t)expected_res(next);
					next++;
				}
				break;
			case 2:
				lu_ring_publish_sq(r);
				break;
			case 3:
			case 4: {
				io_uring_cqe *c = lu_ring_peek_cqe(r);
				if (c) {
					reaped.push_back(c->user_data);
					EXPECT_EQ(c->res, expected_res(c->user_data));
					lu_ring_cq_advance(r, 1);
				}
				break;
			}
			case 5:
				lu_fk_load_tail(&s.k);
				break;
			case 6:
				lu_fk_get_sqe(&s.k);
				break;
			case 7:
				lu_fk_commit_sq(&s.k);
				break;
			case 8:
				lu_fk_load_cq_head(&s.k);
				break;
			case 9:
				if (s.k.inflight.len > 0)
					lu_fk_complete(&s.k, rng() % s.k.inflight.len);
				break;
			case 10:
				lu_fk_flush(&s.k);
				break;
			case 11:
				lu_fk_commit_cq(&s.k);
				break;
			}
			overflow_seen |= lu_ring_cq_overflowed(r);
			EXPECT_EQ(lu_ring_cq_overflowed(r), s.k.overflow.len > 0);
		}
		std::vector<uint64_t> want(total);
		for (uint64_t i = 0; i < total; i++)
			want[i] = i;
		EXPECT_EQ(log.consumed, want) << "SQ: in order, once each";
		EXPECT_EQ(reaped, log.posted) << "CQ: FIFO";
		std::vector<uint64_t> sorted = reaped;
		std::sort(sorted.begin(), sorted.end());
		EXPECT_EQ(sorted, want) << "exactly once";
		for (auto &kv : log.overflow_res)
			EXPECT_EQ(kv.second, expected_res(kv.first));
		EXPECT_EQ(s.k.overflow.len, 0u);
		// The indices really crossed the wrap (or started there).
		EXPECT_EQ(*r->sq.sq_tail, (uint32_t)(wc.start + total));
		EXPECT_EQ(*r->cq.cq_head, (uint32_t)(wc.start + total));
		EXPECT_EQ(overflow_seen, !log.overflowed.empty());
		runs_with_overflow += overflow_seen;
	}
	if (wc.cq_cap <= 2)
		EXPECT_GT(runs_with_overflow, 0u) << "the overflow list was exercised";
}

INSTANTIATE_TEST_SUITE_P(
	Starts, SoftRingWrap,
	::testing::Values(WrapCase{ 1, 1, 0xFFFFFFF0u }, WrapCase{ 1, 2, 0xFFFFFFFFu },
			  WrapCase{ 2, 2, 0xFFFFFFFEu }, WrapCase{ 2, 4, 0xFFFFFFF0u },
			  WrapCase{ 4, 8, 0xFFFFFFF0u }, WrapCase{ 8, 2, 0xFFFFFFFAu },
			  WrapCase{ 16, 32, 0xFFFFFFF0u }, WrapCase{ 4, 4, 0x7FFFFFFEu },
			  WrapCase{ 4, 8, 0u }));

// The kernel twin on its own thread, as a real kernel or SQPOLL would run: TSan checks that the
// ring's release/acquire pairs order every SQE and CQE access.
TEST(SoftRing, ConcurrentKernelThreadExactlyOnceInOrder)
{
	for (uint32_t start : { 0xFFFFF000u, 0u }) {
		SoftRing s(8, 16, start);
		const uint64_t total = 5000;
		std::atomic<bool> stop{ false };
		std::thread kernel([&] {
			// The machine is shared: spin politely on both sides.
			while (!stop.load(std::memory_order_relaxed)) {
				uint32_t before = s.k.k_head;
				lu_fk_enter(&s.k);
				if (s.k.k_head == before)
					std::this_thread::yield();
			}
		});
		lu_ring *r = &s.r;
		uint64_t next = 0, expect = 0;
		while (expect < total) {
			while (next < total) {
				io_uring_sqe *sqe = lu_ring_get_sqe(r);
				if (!sqe)
					break;
				sqe->user_data = next;
				sqe->len = (uint32_t)expected_res(next);
				next++;
			}
			lu_ring_publish_sq(r);
			if (lu_ring_cq_ready(r) == 0)
				std::this_thread::yield();
			while (io_uring_cqe *c = lu_ring_peek_cqe(r)) {
				// lu_fk_enter completes in consumption order, so CQ order is id order.
				ASSERT_EQ(c->user_data, expect);
				ASSERT_EQ(c->res, expected_res(expect));
				expect++;
				lu_ring_cq_advance(r, 1);
			}
		}
		stop = true;
		kernel.join();
		EXPECT_EQ(lu_ring_cq_ready(r), 0u);
		EXPECT_EQ(*r->sq.sq_head, (uint32_t)(start + total));
	}
}

std::string capture_trace(const std::function<void(lu_ring *, lu_fake_kernel *)> &body,
			  unsigned sq_cap, unsigned cq_cap, uint32_t start)
{
	char *text = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	{
		SoftRing s(sq_cap, cq_cap, start);
		lu_trace_writer w{};
		w.out = f;
		lu_trace_attach(&w, &s.r, &s.k, start);
		body(&s.r, &s.k);
		lu_trace_end(&w);
	}
	fclose(f);
	std::string out(text, len);
	free(text);
	return out;
}

// The exact text of spec/trace-format.md, across the wrap and through the overflow list.
TEST(SoftRing, TraceFormat)
{
	std::string got = capture_trace(
		[](lu_ring *r, lu_fake_kernel *k) {
			for (uint64_t id : { 10, 11 }) {
				io_uring_sqe *sqe = lu_ring_get_sqe(r);
				sqe->user_data = id;
				sqe->len = (uint32_t)id + 100;
			}
			lu_ring_publish_sq(r);
			lu_fk_load_tail(k);
			lu_fk_get_sqe(k);
			lu_fk_get_sqe(k);
			lu_fk_commit_sq(k);
			lu_fk_load_cq_head(k);
			lu_fk_complete(k, 1);
			lu_fk_complete(k, 0);
			lu_fk_commit_cq(k);
			io_uring_cqe *c = lu_ring_peek_cqe(r);
			ASSERT_NE(c, nullptr);
			lu_ring_cq_advance(r, 1);
			lu_fk_load_cq_head(k);
			lu_fk_flush(k);
			lu_fk_commit_cq(k);
		},
		2, 1, 0xFFFFFFFFu);
	EXPECT_EQ(got, "ring 2 1 4294967295\n"
		       "uGetSqe 4294967295 10\n"
		       "uGetSqe 0 11\n"
		       "uPublish 1\n"
		       "uLoadHead 4294967295\n"
		       "kLoadTail 1\n"
		       "kGetSqe 4294967295 10\n"
		       "kGetSqe 0 11\n"
		       "kCommitSq 1\n"
		       "kLoadCqHead 4294967295\n"
		       "kPost 4294967295 11 111\n"
		       "kOverflow 10 110\n"
		       "kCommitCq 0\n"
		       "uLoadCqTail 0\n"
		       "uReap 4294967295 11\n"
		       "uCqAdvance 0\n"
		       "kLoadCqHead 0\n"
		       "kFlush 0\n"
		       "kCommitCq 1\n");
}

// Each slot access is traced where it happens, not where it becomes visible: a take before a
// kernel step is written before it (its user_data filled in at the publish), and a reap at the
// peek, before the kernel's next step, once however often the CQE is peeked.
TEST(SoftRing, TraceSlotAccessWhereItHappens)
{
	std::string got = capture_trace(
		[](lu_ring *r, lu_fake_kernel *k) {
			io_uring_sqe *sqe = lu_ring_get_sqe(r);
			lu_fk_load_cq_head(k);
			sqe->user_data = 7;
			sqe->len = 3;
			lu_ring_publish_sq(r);
			lu_fk_load_tail(k);
			lu_fk_get_sqe(k);
			lu_fk_commit_sq(k);
			lu_fk_complete(k, 0);
			lu_fk_commit_cq(k);
			ASSERT_NE(lu_ring_peek_cqe(r), nullptr);
			lu_fk_load_cq_head(k);
			ASSERT_NE(lu_ring_peek_cqe(r), nullptr);
			lu_ring_cq_advance(r, 1);
		},
		2, 2, 0);
	EXPECT_EQ(got, "ring 2 2 0\n"
		       "uGetSqe 0 7\n"
		       "kLoadCqHead 0\n"
		       "uPublish 1\n"
		       "uLoadHead 0\n"
		       "kLoadTail 1\n"
		       "kGetSqe 0 7\n"
		       "kCommitSq 1\n"
		       "kPost 0 7 3\n"
		       "kCommitCq 1\n"
		       "uLoadCqTail 1\n"
		       "uReap 0 7\n"
		       "kLoadCqHead 0\n"
		       "uLoadCqTail 1\n"
		       "uCqAdvance 1\n");
}

// The real kernel's ring reports the same user-side vocabulary.
TEST(Ring, TraceHookOnRealRing)
{
	char *text = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	{
		Ring ring(2);
		lu_trace_writer w{};
		w.out = f;
		ring.r.trace = lu_trace_write_user;
		ring.r.trace_ctx = &w;
		io_uring_sqe *sqe = lu_ring_get_sqe(&ring.r);
		sqe->opcode = IORING_OP_NOP;
		sqe->user_data = 5;
		ASSERT_EQ(lu_ring_enter(&ring.r, lu_ring_publish_sq(&ring.r), 1, 0), 1);
		ASSERT_NE(lu_ring_peek_cqe(&ring.r), nullptr);
		ASSERT_NE(lu_ring_peek_cqe(&ring.r), nullptr);
		lu_ring_cq_advance(&ring.r, 1);
		lu_trace_end(&w);
	}
	fclose(f);
	EXPECT_EQ(std::string(text, len), "uGetSqe 0 5\nuPublish 1\nuLoadHead 0\nuLoadCqTail 1\n"
					  "uReap 0 5\nuLoadCqTail 1\nuCqAdvance 1\n");
	free(text);
}

}  // namespace
