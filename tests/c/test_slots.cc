// The slot table (slots.c) against the real kernel: every operation completes exactly once,
// stale CQEs complete nothing, and no owner is released while the kernel may use it, nor twice.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "driver.h"
#include "slots.h"
#include "test_util.h"

namespace {

// Each test on a fresh thread, so that it gets a fresh table with count_release (test_util.h);
// owners are distinct fake pointers or real buffers.
void on_fresh_thread(const std::function<void()> &body)
{
	released.clear();
	std::thread t(body);
	t.join();
}

lu_slots *table()
{
	int err = 0;
	lu_slots *t = lu_slots_get(count_release, LU_SLOTS_RING, &err);
	EXPECT_NE(t, nullptr) << err;
	return t;
}

int submit(lu_slots *t, io_uring_sqe sqe, uint64_t user_data, void *owner = nullptr)
{
	int slot = lu_slots_prepare(t, user_data, 0, 0);
	if (slot < 0)
		return slot;
	lu_slots_owners(t, slot)[0] = owner;
	return lu_slots_submit(t, slot, &sqe);
}

io_uring_sqe nop()
{
	io_uring_sqe sqe{};
	sqe.opcode = IORING_OP_NOP;
	return sqe;
}

io_uring_sqe read_sqe(int fd, void *buf, unsigned len)
{
	io_uring_sqe sqe{};
	sqe.opcode = IORING_OP_READ;
	sqe.fd = fd;
	sqe.addr = (uintptr_t)buf;
	sqe.len = len;
	sqe.off = (uint64_t)-1;
	return sqe;
}

std::vector<lu_slot_cqe> wait_all(lu_slots *t)
{
	std::vector<lu_slot_cqe> got;
	auto collect = [](void *ctx, const lu_slot_cqe *c) {
		static_cast<std::vector<lu_slot_cqe> *>(ctx)->push_back(*c);
	};
	while (lu_slots_inflight(t) > 0) {
		int n = lu_slots_wait(t, true, collect, &got);
		EXPECT_GT(n, 0);
		if (n <= 0)
			break;
	}
	return got;
}

TEST(Slots, TenThousandInFlightEachCompletedOnce)
{
	on_fresh_thread([] {
		lu_slots *t = table();
		const int n = 10000;
		for (int i = 0; i < n; i++)
			ASSERT_EQ(submit(t, nop(), 1000000 + i, (void *)(uintptr_t)(i + 1)), 0);
		EXPECT_EQ(lu_slots_inflight(t), (unsigned)n);
		std::vector<int> seen(n);
		for (const lu_slot_cqe &c : wait_all(t)) {
			int i = (int)(c.user_data - 1000000);
			ASSERT_TRUE(i >= 0 && i < n) << c.user_data;
			EXPECT_EQ(c.res, 0);
			EXPECT_EQ(c.owner[0], (void *)(uintptr_t)(i + 1));
			seen[i]++;
		}
		for (int i = 0; i < n; i++)
			EXPECT_EQ(seen[i], 1) << i;
		EXPECT_EQ(lu_slots_stale(t), 0u);
		// Delivered owners belong to the receiver: the table released none.
		EXPECT_TRUE(released.empty());
		// Every tag keeps the driver's top bit clear.
		int slot = lu_slots_prepare(t, 1, 0, 0);
		EXPECT_EQ(lu_slots_tag(t, slot) >> 63, 0u);
		io_uring_sqe sqe = nop();
		ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
		EXPECT_EQ(wait_all(t).size(), 1u);
	});
}

TEST(Slots, NonBlockingWaitDeliversOnlyWhatIsReady)
{
	on_fresh_thread([] {
		lu_slots *t = table();
		int p[2];
		ASSERT_EQ(pipe(p), 0);
		char buf[8];
		ASSERT_EQ(submit(t, read_sqe(p[0], buf, sizeof buf), 1), 0);
		ASSERT_EQ(submit(t, nop(), 2), 0);
		std::vector<lu_slot_cqe> got;
		auto collect = [](void *ctx, const lu_slot_cqe *c) {
			static_cast<std::vector<lu_slot_cqe> *>(ctx)->push_back(*c);
		};
		EXPECT_EQ(lu_slots_wait(t, false, collect, &got), 1);
		ASSERT_EQ(got.size(), 1u);
		EXPECT_EQ(got[0].user_data, 2u);
		EXPECT_EQ(lu_slots_wait(t, false, collect, &got), 0);
		ASSERT_EQ(write(p[1], "x", 1), 1);
		got = wait_all(t);
		ASSERT_EQ(got.size(), 1u);
		EXPECT_EQ(got[0].user_data, 1u);
		EXPECT_EQ(got[0].res, 1);
		close(p[0]);
		close(p[1]);
	});
}

TEST(Slots, StaleGenerationIsIgnored)
{
	on_fresh_thread([] {
		lu_slots *t = table();
		int slot = lu_slots_prepare(t, 1, 0, 0);
		uint64_t old_tag = lu_slots_tag(t, slot);
		io_uring_sqe sqe = nop();
		ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
		ASSERT_EQ(wait_all(t).size(), 1u);
		// A CQE for the finished operation (what a late duplicate would look like)...
		io_uring_sqe stale = nop();
		stale.user_data = old_tag;
		int err = 0;
		ASSERT_EQ(lu_submit(lu_driver_get(&err), &stale), 0);
		// ...arrives while the same slot, in a new generation, runs another operation.
		int again = lu_slots_prepare(t, 2, 0, 0);
		ASSERT_EQ(again, slot);
		EXPECT_NE(lu_slots_tag(t, again), old_tag);
		EXPECT_EQ((uint32_t)lu_slots_tag(t, again), (uint32_t)old_tag);
		sqe = nop();
		ASSERT_EQ(lu_slots_submit(t, again, &sqe), 0);
		std::vector<lu_slot_cqe> got = wait_all(t);
		ASSERT_EQ(got.size(), 1u);
		EXPECT_EQ(got[0].user_data, 2u);
		EXPECT_EQ(lu_slots_stale(t), 1u);
	});
}

TEST(Slots, CancelledReadOnEmptyPipeGivesItsBufferBackOnce)
{
	on_fresh_thread([] {
		lu_slots *t = table();
		int p[2];
		ASSERT_EQ(pipe(p), 0);
		char *buf = new char[64];
		ASSERT_EQ(submit(t, read_sqe(p[0], buf, 64), 7, buf), 0);
		ASSERT_EQ(lu_slots_cancel(t, 7, 8), 0);
		// Should the cancel miss, this byte ends the read, and the test fails instead of hanging.
		std::thread rescue([&] {
			std::this_thread::sleep_for(std::chrono::milliseconds(300));
			EXPECT_EQ(write(p[1], "!", 1), 1);
		});
		int read_res = 1, cancel_res = 1;
		std::vector<lu_slot_cqe> done = wait_all(t);
		rescue.join();
		for (const lu_slot_cqe &c : done) {
			if (c.user_data == 7) {
				read_res = c.res;
				EXPECT_EQ(c.owner[0], buf);
				count_release(c.owner[0]);  // what the receiver does with it
			} else {
				EXPECT_EQ(c.user_data, 8u);
				cancel_res = c.res;
			}
		}
		EXPECT_EQ(read_res, -ECANCELED);
		EXPECT_EQ(cancel_res, 0);
		EXPECT_EQ(released[buf], 1);
		// A cancel aimed at nothing in flight still completes.
		ASSERT_EQ(lu_slots_cancel(t, 7, 9), 0);
		std::vector<lu_slot_cqe> got = wait_all(t);
		ASSERT_EQ(got.size(), 1u);
		EXPECT_EQ(got[0].res, -ENOENT);
		delete[] buf;
		close(p[0]);
		close(p[1]);
	});
}

TEST(Slots, ThreadExitReleasesEveryOwnerOnce)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	const int n = 200;
	std::vector<std::vector<char>> bufs(n, std::vector<char>(32));
	static __kernel_timespec long_time = {30, 0};
	on_fresh_thread([&] {
		lu_slots *t = table();
		for (int i = 0; i < n; i++) {
			int slot = lu_slots_prepare(t, i, 0, 0);
			ASSERT_GE(slot, 0);
			lu_slots_owners(t, slot)[0] = bufs[i].data();
			lu_slots_owners(t, slot)[1] = &bufs[i][1];
			io_uring_sqe sqe = read_sqe(p[0], bufs[i].data(), 32);
			ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
		}
		int slot = lu_slots_prepare(t, n, 0, 0);
		lu_slots_scratch(t, slot)->ts = long_time;
		lu_slots_owners(t, slot)[0] = &long_time;
		io_uring_sqe sqe{};
		sqe.opcode = IORING_OP_TIMEOUT;
		sqe.addr = (uintptr_t)&lu_slots_scratch(t, slot)->ts;
		sqe.len = 1;
		ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
		// Let the kernel start every operation before the thread goes.
		ASSERT_EQ(lu_slots_wait(t, false, [](void *, const lu_slot_cqe *) { ADD_FAILURE(); },
					nullptr), 0);
		EXPECT_EQ(lu_slots_inflight(t), (unsigned)n + 1);
	});
	EXPECT_EQ(released.size(), 2u * n + 1);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(released[bufs[i].data()], 1) << i;
		EXPECT_EQ(released[&bufs[i][1]], 1) << i;
	}
	EXPECT_EQ(released[&long_time], 1);
	// No read is left in the kernel: the pipe's data stays for us.
	ASSERT_EQ(write(p[1], "z", 1), 1);
	char c = 0;
	EXPECT_EQ(read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
}

TEST(Slots, ThreadExitClosesFdsThatLateResultsOpened)
{
	int before = open("/dev/null", O_RDONLY);
	ASSERT_GE(before, 0);
	close(before);
	on_fresh_thread([] {
		lu_slots *t = table();
		int slot = lu_slots_prepare(t, 1, 0, LU_SLOT_FD_RESULT);
		io_uring_sqe sqe{};
		sqe.opcode = IORING_OP_OPENAT;
		sqe.fd = AT_FDCWD;
		sqe.addr = (uintptr_t) "/dev/null";
		sqe.open_flags = O_RDONLY | O_CLOEXEC;
		ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
	});
	// The openat completed during teardown; its fd was closed, so the lowest free fd is back.
	int after = open("/dev/null", O_RDONLY);
	EXPECT_EQ(after, before);
	close(after);
}

TEST(Slots, UsableAgainAfterExplicitRelease)
{
	on_fresh_thread([] {
		lu_slots *t = table();
		uint64_t serial = lu_slots_serial(t);
		ASSERT_EQ(submit(t, nop(), 1, (void *)1), 0);
		lu_slots_release();
		EXPECT_EQ(lu_slots_current(), nullptr);
		EXPECT_EQ(released[(void *)1], 1);
		lu_slots *u = table();
		EXPECT_NE(lu_slots_serial(u), serial);
		ASSERT_EQ(submit(u, nop(), 2), 0);
		EXPECT_EQ(wait_all(u).size(), 1u);
	});
}

} // namespace
