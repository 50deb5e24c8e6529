// The per-thread driver (driver.c) against the real kernel: real files, pipes, timeouts,
// signals and threads.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "driver.h"
#include "test_util.h"

namespace {

io_uring_sqe nop()
{
	io_uring_sqe sqe{};
	sqe.opcode = IORING_OP_NOP;
	return sqe;
}

io_uring_sqe timeout(__kernel_timespec *ts, uint64_t user_data)
{
	io_uring_sqe sqe{};
	sqe.opcode = IORING_OP_TIMEOUT;
	sqe.addr = (uintptr_t)ts;
	sqe.len = 1;
	sqe.user_data = user_data;
	return sqe;
}

io_uring_sqe rw(uint8_t opcode, int fd, const void *buf, uint32_t len, uint64_t off)
{
	io_uring_sqe sqe{};
	sqe.opcode = opcode;
	sqe.fd = fd;
	sqe.addr = (uintptr_t)buf;
	sqe.len = len;
	sqe.off = off;
	return sqe;
}

lu_driver *driver()
{
	int err = 0;
	lu_driver *d = lu_driver_get(&err);
	EXPECT_NE(d, nullptr) << err;
	return d;
}

// Runs `body` on a fresh thread whose driver has a ring of `entries`.
void on_fresh_thread(unsigned entries, const std::function<void()> &body)
{
	lu_driver_set_entries(entries);
	std::thread t(body);
	t.join();
	lu_driver_set_entries(LU_DRIVER_DEFAULT_ENTRIES);
}

TEST(Driver, SyncOperations)
{
	char path[] = "/tmp/lu-driver-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	const std::string text = "hello, ring";
	io_uring_sqe w = rw(IORING_OP_WRITE, fd, text.data(), (uint32_t)text.size(), 0);
	w.user_data = 0xDEAD;  // ignored by lu_run
	EXPECT_EQ(lu_run(&w), (int)text.size());
	char buf[64] = {};
	io_uring_sqe r = rw(IORING_OP_READ, fd, buf, sizeof(buf), 0);
	EXPECT_EQ(lu_run(&r), (int)text.size());
	EXPECT_EQ(std::string(buf, text.size()), text);
	io_uring_sqe bad = rw(IORING_OP_READ, -1, buf, sizeof(buf), 0);
	EXPECT_EQ(lu_run(&bad), -EBADF);
	io_uring_sqe n = nop();
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(lu_run(&n), 0);
	EXPECT_EQ(lu_inflight(driver()), 0u);
	close(fd);
}

TEST(Driver, SameDriverPerThreadDistinctAcrossThreads)
{
	lu_driver *mine = driver();
	EXPECT_EQ(driver(), mine);
	lu_driver *other = nullptr;
	std::thread t([&] { other = driver(); });
	t.join();
	EXPECT_NE(other, nullptr);
	EXPECT_NE(other, mine);
}

// A forked child must not use the parent's ring (SINGLE_ISSUER would refuse it, and the CQ
// is the parent's): it gets its own, and the parent's keeps working.
TEST(Driver, ForkedChildGetsItsOwnRing)
{
	lu_driver *parent = driver();
	io_uring_sqe n = nop();
	ASSERT_EQ(lu_run(&n), 0);
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		io_uring_sqe child_nop = nop();
		int first = lu_run(&child_nop);
		_exit(first == 0 ? 0 : 100 + (-first & 0x7f));
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "child's lu_run failed with -" << WEXITSTATUS(status) - 100;
	EXPECT_EQ(lu_run(&n), 0);
	EXPECT_EQ(driver(), parent);
}

TEST(Driver, BatchArgumentErrors)
{
	lu_driver *d = driver();
	io_uring_cqe cqe;
	EXPECT_EQ(lu_wait(d, &cqe), -ENOENT);
	io_uring_sqe reserved = nop();
	reserved.user_data = UINT64_C(1) << 63;
	EXPECT_EQ(lu_submit(d, &reserved), -EINVAL);
	EXPECT_EQ(lu_inflight(d), 0u);
}

// Timeouts submitted longest first complete shortest first: lu_wait hands them out in
// completion order, matched by the caller's user_data.
TEST(Driver, BatchCompletesInAnyOrder)
{
	lu_driver *d = driver();
	const int n = 8;
	std::vector<__kernel_timespec> ts(n);
	for (int i = 0; i < n; i++) {
		ts[i] = { 0, (long long)(n - i) * 15 * 1000 * 1000 };
		io_uring_sqe sqe = timeout(&ts[i], 100 + i);
		ASSERT_EQ(lu_submit(d, &sqe), 0);
	}
	EXPECT_EQ(lu_inflight(d), (unsigned)n);
	std::vector<uint64_t> order;
	for (int i = 0; i < n; i++) {
		io_uring_cqe cqe;
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		EXPECT_EQ(cqe.res, -ETIME);
		order.push_back(cqe.user_data);
		EXPECT_EQ(lu_inflight(d), (unsigned)(n - 1 - i));
	}
	std::vector<uint64_t> want;
	for (int i = n - 1; i >= 0; i--)
		want.push_back(100 + i);
	EXPECT_EQ(order, want);
	io_uring_cqe cqe;
	EXPECT_EQ(lu_wait(d, &cqe), -ENOENT);
}

// Batch completions that arrive while lu_run waits are kept for lu_wait, none lost or doubled.
TEST(Driver, MixedSyncAndBatch)
{
	lu_driver *d = driver();
	__kernel_timespec later = { 0, 30 * 1000 * 1000 };
	io_uring_sqe t = timeout(&later, 7);
	ASSERT_EQ(lu_submit(d, &t), 0);
	for (uint64_t i = 0; i < 10; i++) {
		io_uring_sqe n = nop();
		n.user_data = 1000 + i;
		ASSERT_EQ(lu_submit(d, &n), 0);
	}
	// The batch is not in the kernel yet; lu_run submits it with its own NOP.
	io_uring_sqe n = nop();
	ASSERT_EQ(lu_run(&n), 0);
	__kernel_timespec sleep = { 0, 50 * 1000 * 1000 };
	io_uring_sqe s = timeout(&sleep, 0);
	EXPECT_EQ(lu_run(&s), -ETIME);  // the batch timeout fires meanwhile
	EXPECT_EQ(lu_inflight(d), 11u);
	std::set<uint64_t> got;
	for (int i = 0; i < 11; i++) {
		io_uring_cqe cqe;
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		EXPECT_TRUE(got.insert(cqe.user_data).second);
		EXPECT_EQ(cqe.res, cqe.user_data == 7 ? -ETIME : 0);
	}
	EXPECT_EQ(got.size(), 11u);
	EXPECT_TRUE(got.count(7));
	io_uring_cqe cqe;
	EXPECT_EQ(lu_wait(d, &cqe), -ENOENT);
}

// A 4-entry ring (CQ of 8) given 300 operations without reaping: the SQ fills and is
// flushed, the CQ overflows into the kernel's list, and every completion still arrives once,
// in order (NOPs complete in submission order, and every queue on the way is FIFO).
TEST(Driver, FullSqAndOverflowingCq)
{
	on_fresh_thread(4, [] {
		lu_driver *d = driver();
		const uint64_t total = 300;
		for (uint64_t i = 0; i < total; i++) {
			io_uring_sqe n = nop();
			n.user_data = i;
			ASSERT_EQ(lu_submit(d, &n), 0);
			if (i == total / 2) {
				io_uring_sqe s = nop();
				ASSERT_EQ(lu_run(&s), 0);
			}
		}
		ASSERT_EQ(lu_inflight(d), total);
		for (uint64_t i = 0; i < total; i++) {
			io_uring_cqe cqe;
			ASSERT_EQ(lu_wait(d, &cqe), 0);
			ASSERT_EQ(cqe.user_data, i);
		}
		io_uring_cqe cqe;
		EXPECT_EQ(lu_wait(d, &cqe), -ENOENT);
	});
}

void on_signal(int) {}

// Runs `body` while this thread receives SIGUSR1 every 5 ms; returns how many it got.
int under_signals(const std::function<void()> &body)
{
	struct sigaction sa = {}, old;
	sa.sa_handler = on_signal;  // no SA_RESTART: waits really are interrupted
	sigaction(SIGUSR1, &sa, &old);
	std::atomic<bool> done{ false };
	std::atomic<int> signals{ 0 };
	pthread_t self = pthread_self();
	std::thread pester([&] {
		while (!done) {
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
			pthread_kill(self, SIGUSR1);
			signals++;
		}
	});
	body();
	done = true;
	pester.join();
	sigaction(SIGUSR1, &old, nullptr);
	return signals;
}

// lu_run and lu_wait retry io_uring_enter's EINTR: the timeout's result arrives, after its
// full time.
TEST(Driver, RetriesEintr)
{
	__kernel_timespec ts = { 0, 200 * 1000 * 1000 };
	int res = 0;
	auto start = std::chrono::steady_clock::now();
	int signals = under_signals([&] {
		io_uring_sqe t = timeout(&ts, 0);
		res = lu_run(&t);
	});
	EXPECT_EQ(res, -ETIME);
	EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
	EXPECT_GT(signals, 5);

	lu_driver *d = driver();
	io_uring_cqe cqe{};
	io_uring_cqe *out = &cqe;
	start = std::chrono::steady_clock::now();
	signals = under_signals([&] {
		io_uring_sqe t = timeout(&ts, 42);
		ASSERT_EQ(lu_submit(d, &t), 0);
		res = lu_wait(d, out);
	});
	EXPECT_EQ(res, 0);
	EXPECT_EQ(cqe.user_data, 42u);
	EXPECT_EQ(cqe.res, -ETIME);
	EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
	EXPECT_GT(signals, 5);
}

// 16 threads, each with its own ring, 10,000 operations each through both paths.
TEST(Driver, SixteenThreadsExactlyOnce)
{
	const int threads = 16, per_thread = 10000;
	pthread_barrier_t all_up;
	pthread_barrier_init(&all_up, nullptr, threads);
	std::vector<lu_driver *> drivers(threads);
	std::vector<std::thread> pool;
	std::atomic<int> failures{ 0 };
	for (int t = 0; t < threads; t++) {
		pool.emplace_back([&, t] {
			lu_driver *d = driver();
			drivers[t] = d;
			pthread_barrier_wait(&all_up);  // every driver alive at once
			std::mt19937 rng(t);
			std::vector<int> seen(per_thread, 0);
			int done = 0;
			while (done < per_thread) {
				if (rng() % 4 == 0) {
					io_uring_sqe n = nop();
					failures += lu_run(&n) != 0;
					seen[done++]++;
					continue;
				}
				int batch = std::min(per_thread - done, 1 + (int)(rng() % 100));
				for (int i = 0; i < batch; i++) {
					io_uring_sqe n = nop();
					n.user_data = ((uint64_t)t << 32) | (uint64_t)(done + i);
					failures += lu_submit(d, &n) != 0;
				}
				for (int i = 0; i < batch; i++) {
					io_uring_cqe cqe;
					if (lu_wait(d, &cqe) != 0 || cqe.res != 0 ||
					    (cqe.user_data >> 32) != (uint64_t)t) {
						failures++;
						continue;
					}
					seen[cqe.user_data & 0xFFFFFFFF]++;
				}
				done += batch;
			}
			for (int c : seen)
				failures += c != 1;
			failures += lu_inflight(d) != 0;
		});
	}
	for (std::thread &t : pool)
		t.join();
	pthread_barrier_destroy(&all_up);
	EXPECT_EQ(failures.load(), 0);
	std::set<lu_driver *> distinct(drivers.begin(), drivers.end());
	EXPECT_EQ(distinct.size(), (size_t)threads);
}

int count_ring_mappings()
{
	std::ifstream maps("/proc/self/maps");
	std::string line;
	int n = 0;
	while (std::getline(maps, line))
		n += line.find("io_uring") != std::string::npos;
	return n;
}

// A thread that exits with a long timeout and a blocked pipe read in flight: teardown cancels
// both (the thread does not wait 10 s), waits for their CQEs, and releases the ring; the read
// is really gone (it does not swallow data written afterwards).
TEST(Driver, ThreadExitWithOperationsInFlight)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	const int fds = count_fds(), maps = count_ring_mappings();
	static __kernel_timespec forever = { 10, 0 };
	static char buf[16];
	int mappings_while_alive = 0;
	auto start = std::chrono::steady_clock::now();
	std::thread t([&] {
		lu_driver *d = driver();
		io_uring_sqe sqe = timeout(&forever, 1);
		ASSERT_EQ(lu_submit(d, &sqe), 0);
		sqe = rw(IORING_OP_READ, p[0], buf, sizeof(buf), (uint64_t)-1);
		sqe.user_data = 2;
		ASSERT_EQ(lu_submit(d, &sqe), 0);
		io_uring_sqe n = nop();
		ASSERT_EQ(lu_run(&n), 0);  // both are now in the kernel
		sqe = nop();
		sqe.user_data = 3;
		ASSERT_EQ(lu_submit(d, &sqe), 0);  // and this one is not even submitted
		mappings_while_alive = count_ring_mappings();
	});
	t.join();
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
	EXPECT_GT(mappings_while_alive, maps) << "the probe for ring mappings works";
	EXPECT_EQ(count_ring_mappings(), maps);
	EXPECT_EQ(count_fds(), fds);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	char c = 0;
	EXPECT_EQ(read(p[0], &c, 1), 1);
	EXPECT_EQ(c, 'x');
	close(p[0]);
	close(p[1]);
}

// Thread exit right after the first operation, many times: no ring or fd is left behind.
TEST(Driver, ManyShortLivedThreadsLeaveNothing)
{
	const int fds = count_fds(), maps = count_ring_mappings();
	for (int i = 0; i < 50; i++) {
		std::thread t([] {
			io_uring_sqe n = nop();
			EXPECT_EQ(lu_run(&n), 0);
		});
		t.join();
	}
	EXPECT_EQ(count_fds(), fds);
	EXPECT_EQ(count_ring_mappings(), maps);
}

}  // namespace
