// What a ring costs a thread, and what a thread does without one (driver.c, ring.c, ops.c):
// real threads, real descriptor limits, and -EBADR injected between the driver and the real
// kernel (lu_ring_enter is wrapped at link time, see CMakeLists.txt).
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "driver.h"
#include "ops.h"
#include "ring.h"
#include "test_util.h"

/*
 * The fault plan for this thread's next waiting enter: the real kernel still runs (it takes
 * the SQEs, and with DROP_SYNC completes them), then the driver is told -EBADR, as when the
 * kernel could not allocate overflow CQEs.
 */
enum fault { NONE, BADR_BEFORE_SUBMIT, BADR_AFTER_SUBMIT, BADR_DROP_SYNC_CQES };
static thread_local fault plan = NONE;

extern "C" int __real_lu_ring_enter(struct lu_ring *, unsigned, unsigned, unsigned);

extern "C" int __wrap_lu_ring_enter(struct lu_ring *ring, unsigned to_submit,
				    unsigned min_complete, unsigned flags)
{
	fault f = min_complete > 0 ? plan : NONE;
	if (f == NONE)
		return __real_lu_ring_enter(ring, to_submit, min_complete, flags);
	plan = NONE;
	if (f == BADR_AFTER_SUBMIT)
		__real_lu_ring_enter(ring, to_submit, 0, flags);
	if (f == BADR_DROP_SYNC_CQES) {
		__real_lu_ring_enter(ring, to_submit, min_complete, flags);
		while (io_uring_cqe *cqe = lu_ring_peek_cqe(ring)) {
			EXPECT_TRUE(cqe->user_data >> 63) << "only the synchronous CQE is in flight";
			lu_ring_cq_advance(ring, 1);
		}
	}
	return -EBADR;
}

namespace {

io_uring_sqe sqe_of(uint8_t opcode, int fd, void *buf, uint32_t len)
{
	io_uring_sqe sqe{};
	sqe.opcode = opcode;
	sqe.fd = fd;
	sqe.addr = (uintptr_t)buf;
	sqe.len = len;
	sqe.off = (uint64_t)-1;
	return sqe;
}

// A blocked pipe read whose wait fails with -EBADR once the kernel has it: lu_run cancels it
// and returns only when it is gone, so it cannot swallow bytes written afterwards, or write
// into the caller's buffer after the caller has moved on.
TEST(DriverEbadr, OperationInFlightIsSettledBeforeReturning)
{
	std::thread([] {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		char buf[8] = {};
		io_uring_sqe read_sqe = sqe_of(IORING_OP_READ, p[0], buf, sizeof buf);
		plan = BADR_AFTER_SUBMIT;
		EXPECT_EQ(lu_run(&read_sqe), -EBADR);
		ASSERT_EQ(write(p[1], "late", 4), 4);
		// Entering runs the deferred task work that a read still in flight would now do.
		io_uring_sqe nop = sqe_of(IORING_OP_NOP, -1, nullptr, 0);
		EXPECT_EQ(lu_run(&nop), 0) << "the next, unrelated operation must not see the -EBADR";
		ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
		char got[8] = {};
		EXPECT_EQ(read(p[0], got, sizeof got), 4) << "a read outlived lu_run and took the bytes";
		EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
		close(p[0]);
		close(p[1]);
	}).join();
}

// The kernel dropped the operation's own CQE: the cancel finds nothing (-ENOENT), lu_run
// reports -EBADR, and the ring stays usable and is torn down cleanly at thread exit.
TEST(DriverEbadr, DroppedCompletionIsReportedOnce)
{
	const int fds = count_fds();
	std::thread([] {
		io_uring_sqe nop = sqe_of(IORING_OP_NOP, -1, nullptr, 0);
		plan = BADR_DROP_SYNC_CQES;
		EXPECT_EQ(lu_run(&nop), -EBADR);
		for (int i = 0; i < 3; i++)
			EXPECT_EQ(lu_run(&nop), 0);
	}).join();
	EXPECT_EQ(count_fds(), fds);
}

// -EBADR before the kernel read the SQE: it becomes a NOP (the buffer is never touched).
TEST(DriverEbadr, UnsubmittedOperationIsNeutralised)
{
	std::thread([] {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		ASSERT_EQ(write(p[1], "data", 4), 4);
		char buf[8] = {};
		io_uring_sqe read_sqe = sqe_of(IORING_OP_READ, p[0], buf, sizeof buf);
		plan = BADR_BEFORE_SUBMIT;
		EXPECT_EQ(lu_run(&read_sqe), -EBADR);
		io_uring_sqe nop = sqe_of(IORING_OP_NOP, -1, nullptr, 0);
		EXPECT_EQ(lu_run(&nop), 0);
		EXPECT_EQ(std::string(buf, 4), std::string(4, '\0')) << "the abandoned read ran";
		char got[8] = {};
		EXPECT_EQ(read(p[0], got, sizeof got), 4);
		close(p[0]);
		close(p[1]);
	}).join();
}

// A thread's ring holds no descriptor while the thread lives.
TEST(ThreadRings, CostNoDescriptor)
{
	const int fds = count_fds();
	const int threads = 16;
	pthread_barrier_t up, counted;
	pthread_barrier_init(&up, nullptr, threads + 1);
	pthread_barrier_init(&counted, nullptr, threads + 1);
	std::atomic<int> failures{0};
	std::vector<std::thread> ts;
	for (int i = 0; i < threads; i++) {
		ts.emplace_back([&] {
			io_uring_sqe nop = sqe_of(IORING_OP_NOP, -1, nullptr, 0);
			failures += lu_run(&nop) != 0;
			pthread_barrier_wait(&up);
			pthread_barrier_wait(&counted);
		});
	}
	pthread_barrier_wait(&up);
	EXPECT_EQ(count_fds(), fds) << threads << " threads with a ring each";
	pthread_barrier_wait(&counted);
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(failures.load(), 0);
	pthread_barrier_destroy(&up);
	pthread_barrier_destroy(&counted);
}

// 1,000 threads alive at once, each with a ring, an open file and one operation, under the
// default limit of 1,024 descriptors (a ring used to cost a descriptor: EMFILE after ~500).
TEST(ThreadRings, AThousandThreadsUnderTheDefaultFdLimit)
{
	std::string out = in_child([] {
		rlimit lim = { 1024, 1024 };
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
			return std::string("setrlimit failed");
		const int threads = 1000;
		pthread_barrier_t all;
		pthread_barrier_init(&all, nullptr, threads);
		std::atomic<int> failures{0}, first_err{0};
		std::vector<pthread_t> ts(threads);
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		struct arg {
			pthread_barrier_t *all;
			std::atomic<int> *failures, *first_err;
		} a = { &all, &failures, &first_err };
		for (auto &t : ts) {
			if (pthread_create(&t, &attr, [](void *p) -> void * {
				    arg *a = static_cast<arg *>(p);
				    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				    io_uring_sqe nop = sqe_of(IORING_OP_NOP, -1, nullptr, 0);
				    int r = fd < 0 ? -errno : lu_run(&nop);
				    if (r != 0) {
					    ++*a->failures;
					    int zero = 0;
					    a->first_err->compare_exchange_strong(zero, r);
				    }
				    pthread_barrier_wait(a->all);
				    if (fd >= 0)
					    close(fd);
				    return nullptr;
			    }, &a) != 0)
				return std::string("pthread_create failed");
		}
		for (auto &t : ts)
			pthread_join(t, nullptr);
		return "failures " + std::to_string(failures.load()) + " first " +
		       std::to_string(first_err.load());
	});
	EXPECT_EQ(out, "failures 0 first 0");
}

/*
 * A thread that cannot get a ring while the main thread has one: every descriptor is taken,
 * so the new thread's io_uring_setup fails with EMFILE.  Observed in a re-executed copy of
 * this binary (the backend is decided once per process), with stderr captured.  The threads
 * are plain pthreads: with no descriptor left, UBSan could not check std::thread's vtable.
 */
struct ringless_job {
	int fd;
	bool close_it;
	std::string out;
};

void *ringless_thread(void *p)
{
	ringless_job *j = static_cast<ringless_job *>(p);
	const struct lu_ops *ops = lu_ops();
	if (j->close_it) {
		int c = ops->close(j->fd);
		j->out = "close " + std::to_string(c) + " closed " +
			 std::to_string(fcntl(j->fd, F_GETFD) == -1) + "\n";
	} else {
		ssize_t w = ops->write(j->fd, "ab", 2);
		j->out = std::string("ops ") + ops->name + " write " + std::to_string(w) +
			 " unavailable " + std::to_string(lu_ops_unavailable()) + "\n";
	}
	return nullptr;
}

std::string ringless_thread_observations()
{
	if (lu_backend_init() != 0 || !lu_backend_is_uring())
		return "no uring backend";
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return "pipe failed";
	std::vector<int> held = take_every_fd();
	std::string out;
	for (bool close_it : { false, false, true }) {
		ringless_job j = { p[1], close_it, "" };
		pthread_t t;
		if (pthread_create(&t, nullptr, ringless_thread, &j) != 0)
			return "pthread_create failed";
		pthread_join(t, nullptr);
		out += j.out;
	}
	char buf[8];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ssize_t n = read(p[0], buf, sizeof buf);
	out += "pipe holds " + std::to_string(n) + "\n";
	return out;
}

const bool ringless_child = [] {
	if (!getenv("LU_RINGLESS_CHILD"))
		return false;
	dup2(1, 2);
	std::string out = ringless_thread_observations();
	fflush(stderr);
	ssize_t unused = write(1, out.data(), out.size());
	(void)unused;
	_exit(0);
}();

std::string run_ringless_child(const char *backend)
{
	return in_child([backend] {
		setenv("LEAN_IO_BACKEND", backend, 1);
		setenv("LU_RINGLESS_CHILD", "1", 1);
		execl("/proc/self/exe", "lu_tests", (char *)nullptr);
		return std::string("exec failed");
	});
}

// Under auto the thread falls back to POSIX, and the process says so once.
TEST(ThreadRings, RinglessThreadFallsBackUnderAuto)
{
	EXPECT_EQ(run_ringless_child("auto"),
		  "lean: a thread cannot set up its io_uring (EMFILE (Too many open files)); "
		  "its IO uses posix (LEAN_IO_BACKEND=auto)\n"
		  "ops posix write 2 unavailable 0\n"
		  "ops posix write 2 unavailable 0\n"
		  "close 0 closed 1\n"
		  "pipe holds 4\n");
}

// Under a forced uring its operations fail with the reason, and its close still closes.
TEST(ThreadRings, RinglessThreadFailsClearlyUnderUring)
{
	EXPECT_EQ(run_ringless_child("uring"),
		  "ops uring write -24 unavailable -24\n"
		  "ops uring write -24 unavailable -24\n"
		  "close 0 closed 1\n"
		  "pipe holds 0\n");
}

}  // namespace
