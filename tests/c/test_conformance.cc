// Trace conformance, tier 1 half: the C ring (ring.c) and the fake kernel (fake_kernel.h) run
// through seeded random interleavings of every protocol step, and each run is written as a
// trace in the format of spec/trace-format.md.  With LU_TRACE_DIR set, the traces are kept
// there for spec/conformance.sh, which replays them with the Lean twin (tier 2); without it
// they go to temporary files.  Either way each run is also checked here, in C: the trace has
// every step, the kernel consumed the ids in submission order, every id was reaped exactly
// once with its own result, and in the order the kernel put CQEs into the CQ.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fake_kernel.h"
#include "ring.h"

namespace {

int32_t result_of(uint64_t id)
{
	return (int32_t)(id * 13 % 997) - 400;  // negative too: results are signed
}

// Writes every step to the trace and keeps what the C-side checks need.
struct Recorder {
	lu_trace_writer w;
	std::vector<uint64_t> consumed;  // kGetSqe, in order
	std::vector<uint64_t> posted;    // kPost and kFlush, in CQ order

	static void user(void *ctx, lu_ring_action a, uint32_t index, uint64_t ud)
	{
		Recorder *r = static_cast<Recorder *>(ctx);
		lu_trace_write_user(&r->w, a, index, ud);
	}
	static void kernel(void *ctx, lu_fk_action a, uint32_t index, uint64_t ud, int32_t res)
	{
		Recorder *r = static_cast<Recorder *>(ctx);
		lu_trace_write_kernel(&r->w, a, index, ud, res);
		if (a == LU_K_GET_SQE)
			r->consumed.push_back(ud);
		if (a == LU_K_POST || a == LU_K_FLUSH)
			r->posted.push_back(ud);
	}
};

struct Case {
	unsigned sq_cap, cq_cap;
	uint32_t start;
	unsigned ids;
	uint32_t seed;
};

std::string trace_path(const Case &c, const char *dir)
{
	char name[128];
	snprintf(name, sizeof(name), "/conf-sq%u-cq%u-start%u-seed%u.trace", c.sq_cap, c.cq_cap,
		 c.start, c.seed);
	return std::string(dir) + name;
}

// The steps a run picks from; weights differ per run so that some runs keep the CQ full
// (overflow) and others keep the SQ full.
enum Step {
	kUserGet, kUserPublish, kUserReapOne, kUserReapBatch,
	kKernLoadTail, kKernGet, kKernCommitSq, kKernLoadCqHead, kKernComplete, kKernFlush,
	kKernCommitCq, kKernEnter, kSteps
};

struct Outcome {
	std::vector<uint64_t> reaped;
	bool overflowed = false;
	unsigned lines = 0;
};

// One run: random steps until every id is reaped.  Returns what the user saw.
Outcome run_case(const Case &c, FILE *out)
{
	Outcome o;
	size_t size = lu_ring_mem_size(c.sq_cap, c.cq_cap);
	void *mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	lu_ring r;
	EXPECT_EQ(lu_ring_init_mem(&r, mem, c.sq_cap, c.cq_cap, c.start), 0);
	lu_fake_kernel k;
	lu_fk_init(&k, &r);
	Recorder rec{};
	rec.w.out = out;
	lu_trace_begin(&rec.w, c.sq_cap, c.cq_cap, c.start);
	r.trace = Recorder::user;
	r.trace_ctx = &rec;
	k.trace = Recorder::kernel;
	k.trace_ctx = &rec;

	std::mt19937 rng(c.seed);
	std::vector<unsigned> weight(kSteps);
	for (unsigned &w : weight)
		w = 1 + rng() % 8;
	weight[kKernEnter] = rng() % 2;  // some runs only ever take single steps
	if (c.seed % 2 == 0) {           // a slow reaper: the CQ fills and overflows
		weight[kUserReapOne] = weight[kUserReapBatch] = 1;
		weight[kKernComplete] = 12;
	}
	std::discrete_distribution<unsigned> pick(weight.begin(), weight.end());

	uint64_t next = 0;
	for (unsigned n = 0; o.reaped.size() < c.ids; n++) {
		if (n == 200000) {
			ADD_FAILURE() << "no progress after " << n << " steps";
			break;
		}
		switch (pick(rng)) {
		case kUserGet:
			if (next < c.ids) {
				io_uring_sqe *sqe = lu_ring_get_sqe(&r);
				if (sqe) {
					sqe->opcode = IORING_OP_NOP;
					sqe->user_data = next;
					sqe->len = (uint32_t)result_of(next);
					next++;
				}
			}
			break;
		case kUserPublish:
			lu_ring_publish_sq(&r);
			break;
		case kUserReapOne:
			if (io_uring_cqe *cqe = lu_ring_peek_cqe(&r)) {
				EXPECT_EQ(cqe->res, result_of(cqe->user_data));
				o.reaped.push_back(cqe->user_data);
				lu_ring_cq_advance(&r, 1);
			}
			break;
		case kUserReapBatch: {
			uint32_t ready = lu_ring_cq_ready(&r);
			uint32_t take = ready ? 1 + rng() % ready : 0;
			uint32_t head = *r.cq.cq_head;
			for (uint32_t i = 0; i < take; i++) {
				const io_uring_cqe *cqe = &r.cq.cqes[(head + i) & r.cq.mask];
				EXPECT_EQ(cqe->res, result_of(cqe->user_data));
				o.reaped.push_back(cqe->user_data);
			}
			lu_ring_cq_advance(&r, take);
			break;
		}
		case kKernLoadTail:
			lu_fk_load_tail(&k);
			break;
		case kKernGet:
			lu_fk_get_sqe(&k);
			break;
		case kKernCommitSq:
			lu_fk_commit_sq(&k);
			break;
		case kKernLoadCqHead:
			lu_fk_load_cq_head(&k);
			break;
		case kKernComplete:
			if (k.inflight.len > 0) {
				lu_fk_complete(&k, rng() % k.inflight.len);
				o.overflowed |= k.overflow.len > 0;
			}
			break;
		case kKernFlush:
			lu_fk_flush(&k);
			break;
		case kKernCommitCq:
			lu_fk_commit_cq(&k);
			break;
		case kKernEnter:
			lu_fk_enter(&k);
			o.overflowed |= k.overflow.len > 0;
			break;
		}
	}
	lu_trace_end(&rec.w);
	o.lines = (unsigned)rec.w.lines;

	// The kernel consumed 0..ids-1 in submission order; the user reaped in CQ order.
	std::vector<uint64_t> in_order(c.ids);
	for (unsigned i = 0; i < c.ids; i++)
		in_order[i] = i;
	EXPECT_EQ(rec.consumed, in_order);
	EXPECT_EQ(o.reaped, rec.posted);
	lu_fk_destroy(&k);
	lu_ring_exit(&r);
	free(mem);
	return o;
}

// The number of lines of each kind, read back from the written trace.
std::vector<std::pair<std::string, unsigned>> count_kinds(FILE *f)
{
	std::vector<std::pair<std::string, unsigned>> kinds;
	char line[256];
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		std::string w(line, strcspn(line, " \n"));
		bool found = false;
		for (auto &kv : kinds)
			if (kv.first == w)
				kv.second++, found = true;
		if (!found)
			kinds.push_back({ w, 1 });
	}
	return kinds;
}

unsigned count_of(const std::vector<std::pair<std::string, unsigned>> &kinds, const char *w)
{
	for (auto &kv : kinds)
		if (kv.first == w)
			return kv.second;
	return 0;
}

std::vector<Case> cases()
{
	std::vector<Case> all;
	std::mt19937 rng(20210719);
	uint32_t seed = 1;
	for (unsigned sq : { 1u, 2u, 4u, 8u })
		for (unsigned cq : { sq, 2 * sq })
			for (int s = 0; s < 6; s++) {
				unsigned ids = 2 * sq + 1 + rng() % (3 * sq + 4);
				// starting just below 2^32 makes every index wrap within the run
				uint32_t start = s < 2 ? 0 : s < 5 ? 0xFFFFFFFFu - rng() % ids : (uint32_t)rng();
				all.push_back({ sq, cq, start, ids, seed++ });
			}
	return all;
}

TEST(Conformance, RandomInterleavingsWriteTraces)
{
	const char *dir = getenv("LU_TRACE_DIR");
	unsigned wrapped = 0, overflowed = 0, written = 0;
	for (const Case &c : cases()) {
		SCOPED_TRACE(testing::Message() << "sq " << c.sq_cap << " cq " << c.cq_cap << " start "
						<< c.start << " ids " << c.ids << " seed " << c.seed);
		std::string path = dir ? trace_path(c, dir) : std::string();
		FILE *f = dir ? fopen(path.c_str(), "w+") : tmpfile();
		ASSERT_NE(f, nullptr) << (dir ? path : "tmpfile") << ": " << strerror(errno);
		Outcome o = run_case(c, f);
		ASSERT_EQ(fflush(f), 0);

		std::vector<bool> seen(c.ids);
		for (uint64_t id : o.reaped) {
			ASSERT_LT(id, c.ids) << "reaped an id never submitted";
			EXPECT_FALSE(seen[id]) << "id " << id << " reaped twice";
			seen[id] = true;
		}
		EXPECT_EQ(o.reaped.size(), c.ids);

		// The trace is complete: the header plus every step, each id once per kind of step.
		auto kinds = count_kinds(f);
		unsigned total = 0;
		for (auto &kv : kinds)
			total += kv.second;
		EXPECT_EQ(total, o.lines + 1);
		EXPECT_EQ(count_of(kinds, "ring"), 1u);
		EXPECT_EQ(count_of(kinds, "uGetSqe"), c.ids);
		EXPECT_EQ(count_of(kinds, "kGetSqe"), c.ids);
		EXPECT_EQ(count_of(kinds, "uReap"), c.ids);
		EXPECT_EQ(count_of(kinds, "kPost") + count_of(kinds, "kFlush"), c.ids);
		EXPECT_EQ(count_of(kinds, "kOverflow"), count_of(kinds, "kFlush"));
		fclose(f);

		wrapped += c.start > 0xFFFFFFFFu - c.ids;
		overflowed += o.overflowed;
		written++;
	}
	// The mix must really exercise the u32 wrap and the overflow list.
	EXPECT_GE(wrapped, written / 3);
	EXPECT_GE(overflowed, written / 4);
	if (dir)
		printf("wrote %u traces to %s (%u across the u32 wrap, %u with CQ overflow)\n", written,
		       dir, wrapped, overflowed);
}

}  // namespace
