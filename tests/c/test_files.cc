// Registered files (files.h, driver.h) on a real ring: operations on a registered fd really use
// the registered file and give the plain fd's results; every close clears the slot first, so a
// peer sees EOF and a reused fd number reaches its new file, even when the kernel will not clear
// the slot; operations queued before a close keep their file; a refused, full or disabled table falls back to plain fds with the same
// bytes; a long copy runs on registered files and leaves none behind; thread exit drops them.

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "copy.h"
#include "driver.h"
#include "files.h"
#include "ops.h"
#include "test_util.h"

// Slot updates the kernel refuses, while set (the other registrations pass through).
std::atomic<bool> refuse_updates{ false };

extern "C" int __real_lu_ring_register(const lu_ring *, unsigned, void *, unsigned);
extern "C" int __wrap_lu_ring_register(const lu_ring *r, unsigned op, void *arg, unsigned nr)
{
	if (refuse_updates && op == IORING_REGISTER_FILES_UPDATE)
		return -ENOMEM;
	return __real_lu_ring_register(r, op, arg, nr);
}

namespace {

lu_driver *driver()
{
	int err = 0;
	lu_driver *d = lu_driver_get(&err);
	EXPECT_NE(d, nullptr) << err;
	return d;
}

// A scratch file with `content`, unlinked at once: only its fd names it.
int scratch_file(const std::string &content)
{
	char path[] = "/tmp/lu-files-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	EXPECT_GE(fd, 0);
	unlink(path);
	EXPECT_EQ(pwrite(fd, content.data(), content.size(), 0), (ssize_t)content.size());
	return fd;
}

std::string uring_pread(int fd, size_t len)
{
	std::string s(len, '\0');
	ssize_t n = lu_uring_ops.pread(fd, &s[0], len, 0);
	if (n < 0)
		return "error " + std::to_string(n);
	s.resize((size_t)n);
	return s;
}

// Whether `fd` reports EOF (or a hang-up) within `ms`.
bool sees_eof(int fd, int ms)
{
	pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, ms) != 1)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);  // a peer closed with bytes unread resets
}

// Each test gets a ring of its own and the default table size back.
class Files : public ::testing::Test {
protected:
	void SetUp() override { lu_driver_release(); }
	void TearDown() override
	{
		lu_files_set_entries(UINT32_MAX);
		lu_driver_release();
	}
};

TEST_F(Files, OperationsUseTheRegisteredFile)
{
	lu_driver *d = driver();
	int a = scratch_file("the registered file");
	int b = scratch_file("another file");
	ASSERT_EQ(lu_register_file(d, a), 0);
	EXPECT_TRUE(lu_file_registered(d, a));
	EXPECT_EQ(uring_pread(a, 64), "the registered file");
	// Behind the driver's back (no lu_forget_file), `a`'s number now names the other file: the
	// ring still reaches the registered one, a plain read the new one.
	ASSERT_EQ(dup2(b, a), a);
	EXPECT_EQ(uring_pread(a, 64), "the registered file");
	char buf[64];
	EXPECT_EQ(std::string(buf, (size_t)pread(a, buf, sizeof buf, 0)), "another file");
	ASSERT_EQ(lu_unregister_file(d, a), 0);
	EXPECT_EQ(uring_pread(a, 64), "another file");
	EXPECT_EQ(lu_unregister_file(d, a), -ENOENT);
	close(a);
	close(b);
}

TEST_F(Files, RegisteredAndPlainGiveTheSameResults)
{
	lu_driver *d = driver();
	std::string data = random_bytes(300000, 7);
	int plain = scratch_file(data), fixed = scratch_file(data);
	ASSERT_EQ(lu_register_file(d, fixed), 0);
	for (size_t len : { 0ul, 1ul, 4096ul, 299999ul, 400000ul }) {
		std::string p(len, 'x'), f(len, 'x');
		EXPECT_EQ(lu_uring_ops.pread(plain, &p[0], len, 1), lu_uring_ops.pread(fixed, &f[0], len, 1));
		EXPECT_EQ(p, f) << len;
		size_t wlen = std::min(len, data.size());
		EXPECT_EQ(lu_uring_ops.pwrite(plain, data.data(), wlen, 5),
			  lu_uring_ops.pwrite(fixed, data.data(), wlen, 5));
	}
	EXPECT_EQ(lu_uring_ops.fsync(plain), lu_uring_ops.fsync(fixed));
	EXPECT_EQ(uring_pread(plain, 400000), uring_pread(fixed, 400000));
	// Errors too: a write to a file opened read-only.
	std::string ro = "/proc/self/fd/" + std::to_string(plain);
	int ro_plain = open(ro.c_str(), O_RDONLY | O_CLOEXEC);
	int ro_fixed = open(ro.c_str(), O_RDONLY | O_CLOEXEC);
	ASSERT_EQ(lu_register_file(d, ro_fixed), 0);
	EXPECT_EQ(lu_uring_ops.pwrite(ro_plain, "x", 1, 0), -EBADF);
	EXPECT_EQ(lu_uring_ops.pwrite(ro_fixed, "x", 1, 0), -EBADF);

	int sv[2], tv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tv), 0);
	ASSERT_EQ(lu_register_file(d, tv[0]), 0);
	ASSERT_EQ(lu_register_file(d, tv[1]), 0);
	for (int round = 0; round < 3; round++) {
		EXPECT_EQ(lu_uring_ops.send(sv[0], "ping!", 5, 0), lu_uring_ops.send(tv[0], "ping!", 5, 0));
		char p[8], f[8];
		ssize_t np = lu_uring_ops.recv(sv[1], p, sizeof p, 0);
		ssize_t nf = lu_uring_ops.recv(tv[1], f, sizeof f, 0);
		ASSERT_EQ(np, nf);
		EXPECT_EQ(std::string(p, (size_t)np), std::string(f, (size_t)nf));
	}
	EXPECT_EQ(lu_uring_ops.shutdown(sv[0], SHUT_WR), lu_uring_ops.shutdown(tv[0], SHUT_WR));
	char c;
	EXPECT_EQ(lu_uring_ops.recv(sv[1], &c, 1, 0), 0);
	EXPECT_EQ(lu_uring_ops.recv(tv[1], &c, 1, 0), 0);
	for (int fd : { plain, fixed, ro_plain, ro_fixed, sv[0], sv[1], tv[0], tv[1] })
		EXPECT_EQ(lu_uring_ops.close(fd), 0);
	EXPECT_FALSE(lu_file_registered(d, fixed));
}

// The reason every close clears the slot: otherwise the table keeps the socket open.
TEST_F(Files, EveryCloseLetsThePeerSeeEof)
{
	lu_driver *d = driver();
	for (auto close_fn : { lu_uring_ops.close, lu_posix_ops.close }) {
		int sv[2];
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		ASSERT_EQ(lu_register_file(d, sv[0]), 0);
		EXPECT_EQ(close_fn(sv[0]), 0);
		EXPECT_FALSE(lu_file_registered(d, sv[0]));
		EXPECT_TRUE(sees_eof(sv[1], 2000));
		close(sv[1]);
	}
	// A close(2) the runtime does not see leaves the socket open until the slot is cleared.
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ASSERT_EQ(lu_register_file(d, sv[0]), 0);
	close(sv[0]);
	EXPECT_FALSE(sees_eof(sv[1], 100));
	lu_forget_file(sv[0]);
	EXPECT_TRUE(sees_eof(sv[1], 2000));
	close(sv[1]);
}

TEST_F(Files, AReusedFdNumberReachesItsNewFile)
{
	lu_driver *d = driver();
	int a = scratch_file("old");
	ASSERT_EQ(lu_register_file(d, a), 0);
	ASSERT_EQ(lu_uring_ops.close(a), 0);
	int b = scratch_file("new");
	ASSERT_EQ(b, a);  // the lowest free number
	EXPECT_EQ(uring_pread(b, 16), "new");
	close(b);
}

// A close queued behind operations on the same fd: they are submitted before the slot goes,
// so they run on the file, as they would on the plain fd.
TEST_F(Files, OperationsQueuedBeforeACloseKeepTheirFile)
{
	lu_driver *d = driver();
	int fd = scratch_file("");
	int peek = dup(fd);
	ASSERT_EQ(lu_register_file(d, fd), 0);
	io_uring_sqe w{}, c{};
	w.opcode = IORING_OP_WRITE;
	w.fd = fd;
	w.addr = (uintptr_t)"queued";
	w.len = 6;
	w.user_data = 1;
	c.opcode = IORING_OP_CLOSE;
	c.fd = fd;
	c.user_data = 2;
	ASSERT_EQ(lu_submit(d, &w), 0);
	ASSERT_EQ(lu_submit(d, &c), 0);
	int res[3] = { 99, 99, 99 };
	for (int i = 0; i < 2; i++) {
		io_uring_cqe cqe;
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		res[cqe.user_data] = cqe.res;
	}
	EXPECT_EQ(res[1], 6);
	EXPECT_EQ(res[2], 0);
	EXPECT_FALSE(lu_file_registered(d, fd));
	EXPECT_EQ(file_at(AT_FDCWD, ("/proc/self/fd/" + std::to_string(peek)).c_str()), "queued");
	close(peek);
}

// A slot the kernel will not clear at close: the fd still closes and its number is plain
// afterwards (a file reusing it is not reached through the old slot); the kernel holds the old
// socket until the slot is handed out again, which replaces it.
TEST_F(Files, ASlotTheKernelKeepsIsReusedAfterClose)
{
	for (auto close_fn : { lu_uring_ops.close, lu_posix_ops.close }) {
		lu_files_set_entries(1);
		lu_driver_release();
		lu_driver *d = driver();
		int sv[2];
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		ASSERT_EQ(lu_register_file(d, sv[0]), 0);
		refuse_updates = true;
		EXPECT_EQ(close_fn(sv[0]), 0);
		EXPECT_EQ(lu_unregister_file(d, sv[0]), -ENOENT);
		refuse_updates = false;
		EXPECT_FALSE(lu_file_registered(d, sv[0]));
		EXPECT_FALSE(sees_eof(sv[1], 50));
		// A byte waits in the old socket, so a read that wrongly reaches it does not block.
		ASSERT_EQ(send(sv[1], "x", 1, 0), 1);
		int b = scratch_file("new");
		ASSERT_EQ(b, sv[0]);
		EXPECT_EQ(uring_pread(b, 16), "new");
		EXPECT_EQ(lu_register_file(d, b), 0);
		EXPECT_TRUE(sees_eof(sv[1], 2000));
		EXPECT_EQ(uring_pread(b, 16), "new");
		lu_uring_ops.close(b);
		close(sv[1]);
	}
}

TEST_F(Files, AFullTableLeavesFdsPlain)
{
	lu_files_set_entries(2);
	lu_driver *d = driver();
	int fds[3] = { scratch_file("0"), scratch_file("1"), scratch_file("2") };
	EXPECT_EQ(lu_register_file(d, fds[0]), 0);
	EXPECT_EQ(lu_register_file(d, fds[1]), 0);
	EXPECT_EQ(lu_register_file(d, fds[1]), 0);  // already there
	EXPECT_EQ(lu_register_file(d, fds[2]), -ENFILE);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(uring_pread(fds[i], 4), std::to_string(i));
	ASSERT_EQ(lu_uring_ops.close(fds[0]), 0);
	EXPECT_EQ(lu_register_file(d, fds[2]), 0);  // the freed slot
	EXPECT_EQ(uring_pread(fds[2], 4), "2");
	lu_uring_ops.close(fds[1]);
	lu_uring_ops.close(fds[2]);
	EXPECT_EQ(lu_register_file(d, -1), -EBADF);
}

TEST_F(Files, ADisabledTableRefusesEveryFile)
{
	lu_files_set_entries(0);
	lu_driver *d = driver();
	int fd = scratch_file("plain");
	EXPECT_EQ(lu_register_file(d, fd), -EOPNOTSUPP);
	EXPECT_FALSE(lu_file_registered(d, fd));
	EXPECT_EQ(uring_pread(fd, 8), "plain");
	close(fd);
}

// The kernel refuses a table larger than RLIMIT_NOFILE; the default size stays under it.
TEST_F(Files, TheFdLimitIsRespected)
{
	std::string out = in_child([] {
		rlimit rl = { 64, 64 };
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return std::string("setrlimit failed");
		std::string log;
		lu_files_set_entries(128);
		lu_driver *d = lu_driver_get(nullptr);
		int fd = dup(0);
		log += "forced " + std::to_string(lu_register_file(d, fd));
		log += " again " + std::to_string(lu_register_file(d, fd));
		lu_driver_release();
		lu_files_set_entries(UINT32_MAX);
		d = lu_driver_get(nullptr);
		log += " default " + std::to_string(lu_register_file(d, fd));
		return log;
	});
	EXPECT_EQ(out, "forced " + std::to_string(-EMFILE) + " again " + std::to_string(-EMFILE) +
		       " default 0");
}

TEST_F(Files, ThreadExitDropsItsRegistrations)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	std::thread([&] {
		lu_driver *d = driver();
		ASSERT_EQ(lu_register_file(d, sv[0]), 0);
		close(sv[0]);  // unseen by the runtime: only the ring's end frees the socket
	}).join();
	EXPECT_TRUE(sees_eof(sv[1], 2000));
	close(sv[1]);
}

// The copy engine registers both files of a long copy, removes them afterwards, and copies the
// same bytes when the table is refused.
TEST_F(Files, ALongCopyRunsOnRegisteredFiles)
{
	std::string data = random_bytes(3 << 20, 11);
	for (unsigned entries : { UINT32_MAX, 0u, 1u }) {
		lu_files_set_entries(entries);
		lu_driver_release();
		lu_driver *d = driver();
		int in = scratch_file(data), out = scratch_file("");
		lu_copy_opts o = {};
		o.ops = &lu_uring_ops;
		lu_copy_result res;
		ASSERT_EQ(lu_copy_fd(in, out, &o, &res), 0) << entries;
		EXPECT_EQ(res.bytes, data.size());
		EXPECT_EQ(res.registered, entries == UINT32_MAX) << entries;
		EXPECT_GT(res.max_inflight, 1u);
		EXPECT_FALSE(lu_file_registered(d, in));
		EXPECT_FALSE(lu_file_registered(d, out));
		std::string got(data.size() + 1, '\0');
		EXPECT_EQ(pread(out, &got[0], got.size(), 0), (ssize_t)data.size());
		got.resize(data.size());
		EXPECT_TRUE(got == data) << entries;
		close(in);
		close(out);
	}
	// A short copy is not worth the registration; a caller's own registration is kept.
	lu_files_set_entries(UINT32_MAX);
	lu_driver_release();
	lu_driver *d = driver();
	int in = scratch_file("short"), out = scratch_file("");
	lu_copy_opts o = {};
	o.ops = &lu_uring_ops;
	lu_copy_result res;
	ASSERT_EQ(lu_copy_fd(in, out, &o, &res), 0);
	EXPECT_FALSE(res.registered);
	int big = scratch_file(data);
	ASSERT_EQ(lu_register_file(d, big), 0);
	ASSERT_EQ(lu_copy_fd(big, out, &o, &res), 0);
	EXPECT_TRUE(res.registered);
	EXPECT_TRUE(lu_file_registered(d, big));
	EXPECT_FALSE(lu_file_registered(d, out));
	for (int fd : { in, out, big })
		lu_uring_ops.close(fd);
}

}  // namespace
