// The operations layer (ops.h) against the real kernel: every operation under both backends,
// the bad inputs that must fail identically under both, and differential runs that compare the
// two backends result for result.

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend.h"
#include "driver.h"
#include "ops.h"
#include "test_util.h"

extern char **environ;

// Name the backend in gtest's messages instead of printing the table's address.
void PrintTo(const struct lu_ops *ops, std::ostream *os)
{
	*os << ops->name;
}

namespace {

// The function lu_ops() hides the struct tag in C++.
using LuOps = struct lu_ops;


// File helpers that bypass the layer under test, so its results are checked independently.
void put_file(int dirfd, const char *name, const std::string &content)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, content.data(), content.size()), (ssize_t)content.size());
	close(fd);
}

bool exists(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

off_t position(int fd) { return lseek(fd, 0, SEEK_CUR); }

std::string pattern(size_t n, unsigned seed)
{
	std::string s(n, '\0');
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7 + seed) % 26);
	return s;
}

struct Pipe {
	int r = -1, w = -1;
	Pipe()
	{
		int p[2];
		if (pipe2(p, O_CLOEXEC) == 0) {
			r = p[0];
			w = p[1];
		}
	}
	~Pipe()
	{
		if (r >= 0)
			close(r);
		if (w >= 0)
			close(w);
	}
	void close_w()
	{
		close(w);
		w = -1;
	}
};

// A loopback listener on an ephemeral port (plain syscalls: it is fixture, not subject).
struct Listener {
	int fd = -1;
	sockaddr_in addr{};
	Listener()
	{
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof addr;
		if (bind(fd, (sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0 ||
		    getsockname(fd, (sockaddr *)&addr, &len) < 0) {
			close(fd);
			fd = -1;
		}
	}
	~Listener()
	{
		if (fd >= 0)
			close(fd);
	}
};

// An fd number that is certainly not open: opened, then closed.
int closed_fd()
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(fd);
	return fd;
}

bool uring_usable(std::string *why)
{
	int err = 0;
	if (lu_driver_get(&err))
		return true;
	*why = std::string("no io_uring ring on this machine: ") + strerror(-err);
	return false;
}

std::string ops_name(const testing::TestParamInfo<const LuOps *> &info)
{
	return info.param->name;
}

class Ops : public testing::TestWithParam<const LuOps *> {
protected:
	void SetUp() override
	{
		std::string why;
		if (GetParam() == &lu_uring_ops && !uring_usable(&why))
			GTEST_SKIP() << why;
	}
	const LuOps &ops() const { return *GetParam(); }
	TempDir dir;
};

INSTANTIATE_TEST_SUITE_P(Backends, Ops, testing::Values(&lu_uring_ops, &lu_posix_ops), ops_name);

// ---------------------------------------------------------------------------------------------
// files

TEST_P(Ops, OpenWriteReadClose)
{
	int fd = ops().openat(dir.fd(), "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(ops().write(fd, "hello world", 11), 11);
	EXPECT_EQ(position(fd), 11);
	char buf[32];
	EXPECT_EQ(ops().read(fd, buf, sizeof buf), 0) << "read at the end of the file is EOF";
	EXPECT_EQ(ops().close(fd), 0);
	EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "close must release the descriptor";
	EXPECT_EQ(file_at(dir.fd(), "f"), "hello world");

	fd = ops().openat(dir.fd(), "f", O_RDONLY | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC) << "open flags must reach the kernel";
	EXPECT_EQ(ops().close(fd), 0);
}

TEST_P(Ops, OpenatCreatesWithMode)
{
	mode_t old = umask(022);
	int fd = ops().openat(dir.fd(), "m", O_WRONLY | O_CREAT | O_CLOEXEC, 0754);
	umask(old);
	ASSERT_GE(fd, 0);
	struct stat st;
	ASSERT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0754u & ~022u);
	EXPECT_EQ(ops().close(fd), 0);
}

TEST_P(Ops, OpenatErrors)
{
	put_file(dir.fd(), "file", "x");
	ASSERT_EQ(mkdirat(dir.fd(), "sub", 0755), 0);
	EXPECT_EQ(ops().openat(dir.fd(), "missing", O_RDONLY, 0), -ENOENT);
	EXPECT_EQ(ops().openat(dir.fd(), "file", O_RDWR | O_CREAT | O_EXCL, 0644), -EEXIST);
	EXPECT_EQ(ops().openat(dir.fd(), "sub", O_WRONLY, 0), -EISDIR);
	EXPECT_EQ(ops().openat(dir.fd(), "file/x", O_RDONLY, 0), -ENOTDIR);
	EXPECT_EQ(ops().openat(dir.fd(), "file", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
	EXPECT_EQ(ops().openat(closed_fd(), "file", O_RDONLY, 0), -EBADF);
}

TEST_P(Ops, ReadAtCurrentPositionAdvancesIt)
{
	put_file(dir.fd(), "f", "abcdefgh");
	int fd = ops().openat(dir.fd(), "f", O_RDONLY | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	char buf[16] = {};
	ASSERT_EQ(ops().read(fd, buf, 3), 3);
	EXPECT_EQ(std::string(buf, 3), "abc");
	EXPECT_EQ(position(fd), 3);
	ASSERT_EQ(ops().read(fd, buf, 3), 3);
	EXPECT_EQ(std::string(buf, 3), "def");
	ASSERT_EQ(ops().read(fd, buf, sizeof buf), 2) << "short read at the tail";
	EXPECT_EQ(std::string(buf, 2), "gh");
	EXPECT_EQ(ops().read(fd, buf, sizeof buf), 0);
	ASSERT_EQ(lseek(fd, 1, SEEK_SET), 1);
	ASSERT_EQ(ops().read(fd, buf, 2), 2) << "read follows a position set elsewhere";
	EXPECT_EQ(std::string(buf, 2), "bc");
	ops().close(fd);
}

TEST_P(Ops, WriteAtCurrentPositionAdvancesIt)
{
	put_file(dir.fd(), "f", "0123456789");
	int fd = ops().openat(dir.fd(), "f", O_RDWR | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(lseek(fd, 4, SEEK_SET), 4);
	EXPECT_EQ(ops().write(fd, "AB", 2), 2);
	EXPECT_EQ(position(fd), 6);
	EXPECT_EQ(ops().write(fd, "C", 1), 1);
	EXPECT_EQ(file_at(dir.fd(), "f"), "0123ABC789");
	ops().close(fd);

	fd = ops().openat(dir.fd(), "f", O_WRONLY | O_APPEND | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(ops().write(fd, "!", 1), 1);
	EXPECT_EQ(file_at(dir.fd(), "f"), "0123ABC789!") << "O_APPEND writes at the end";
	ops().close(fd);
}

TEST_P(Ops, PreadPwriteLeavePositionAlone)
{
	put_file(dir.fd(), "f", "abcdefgh");
	int fd = ops().openat(dir.fd(), "f", O_RDWR | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	char buf[16] = {};
	ASSERT_EQ(ops().read(fd, buf, 2), 2);
	EXPECT_EQ(ops().pwrite(fd, "XY", 2, 4), 2);
	EXPECT_EQ(position(fd), 2);
	ASSERT_EQ(ops().pread(fd, buf, 8, 0), 8);
	EXPECT_EQ(std::string(buf, 8), "abcdXYgh");
	EXPECT_EQ(position(fd), 2);
	EXPECT_EQ(ops().pread(fd, buf, 8, 6), 2);
	EXPECT_EQ(ops().pread(fd, buf, 8, 100), 0) << "pread past EOF";
	EXPECT_EQ(ops().pwrite(fd, "Z", 1, 20), 1) << "pwrite past EOF extends the file";
	EXPECT_EQ(position(fd), 2);
	std::string expect = std::string("abcdXYgh") + std::string(12, '\0') + "Z";
	EXPECT_EQ(file_at(dir.fd(), "f"), expect);
	EXPECT_EQ(ops().pread(fd, buf, 1, -1), -EINVAL) << "a negative offset is not 'current'";
	EXPECT_EQ(ops().pwrite(fd, "q", 1, -1), -EINVAL);
	EXPECT_EQ(position(fd), 2);
	ops().close(fd);
}

TEST_P(Ops, Fsync)
{
	int fd = ops().openat(dir.fd(), "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ops().write(fd, "data", 4), 4);
	EXPECT_EQ(ops().fsync(fd), 0);
	ops().close(fd);
	Pipe p;
	EXPECT_EQ(ops().fsync(p.w), -EINVAL) << "pipes cannot be synced";
	EXPECT_EQ(ops().fsync(closed_fd()), -EBADF);
}

TEST_P(Ops, StatxMatchesTheSyscall)
{
	put_file(dir.fd(), "f", pattern(5000, 1));
	ASSERT_EQ(fchmodat(dir.fd(), "f", 0640, 0), 0);
	struct statx got {}, want {};
	ASSERT_EQ(ops().statx(dir.fd(), "f", 0, STATX_BASIC_STATS, &got), 0);
	ASSERT_EQ(statx(dir.fd(), "f", 0, STATX_BASIC_STATS, &want), 0);
	EXPECT_EQ(got.stx_mask & STATX_BASIC_STATS, want.stx_mask & STATX_BASIC_STATS);
	EXPECT_EQ(got.stx_size, 5000u);
	EXPECT_TRUE(S_ISREG(got.stx_mode));
	EXPECT_EQ(got.stx_mode & 07777, 0640);
	EXPECT_EQ(got.stx_ino, want.stx_ino);
	EXPECT_EQ(got.stx_nlink, 1u);
	EXPECT_EQ(got.stx_uid, getuid());
	EXPECT_EQ(got.stx_blocks, want.stx_blocks);
	EXPECT_EQ(got.stx_mtime.tv_sec, want.stx_mtime.tv_sec);
	EXPECT_EQ(got.stx_mtime.tv_nsec, want.stx_mtime.tv_nsec);

	int fd = open(dir.path("f").c_str(), O_RDONLY | O_CLOEXEC);
	struct statx byfd {};
	EXPECT_EQ(ops().statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_SIZE, &byfd), 0);
	EXPECT_EQ(byfd.stx_ino, want.stx_ino);
	EXPECT_EQ(byfd.stx_size, 5000u);
	close(fd);

	ASSERT_EQ(symlinkat("f", dir.fd(), "link"), 0);
	struct statx l {};
	EXPECT_EQ(ops().statx(dir.fd(), "link", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &l), 0);
	EXPECT_TRUE(S_ISLNK(l.stx_mode));
	EXPECT_EQ(ops().statx(dir.fd(), "link", 0, STATX_TYPE | STATX_INO, &l), 0);
	EXPECT_TRUE(S_ISREG(l.stx_mode));
	EXPECT_EQ(l.stx_ino, want.stx_ino);

	EXPECT_EQ(ops().statx(dir.fd(), "missing", 0, STATX_BASIC_STATS, &l), -ENOENT);
	EXPECT_EQ(ops().statx(dir.fd(), "f/x", 0, STATX_BASIC_STATS, &l), -ENOTDIR);
	EXPECT_EQ(ops().statx(closed_fd(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &l), -EBADF);
}

TEST_P(Ops, MkdiratUnlinkat)
{
	EXPECT_EQ(ops().mkdirat(dir.fd(), "d", 0750), 0);
	struct stat st;
	ASSERT_EQ(fstatat(dir.fd(), "d", &st, 0), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(ops().mkdirat(dir.fd(), "d", 0750), -EEXIST);
	EXPECT_EQ(ops().mkdirat(dir.fd(), "missing/d", 0750), -ENOENT);

	put_file(dir.fd(), "d/f", "x");
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d", AT_REMOVEDIR), -ENOTEMPTY);
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d", 0), -EISDIR);
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d/f", AT_REMOVEDIR), -ENOTDIR);
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d/f", 0), 0);
	EXPECT_FALSE(exists(dir.fd(), "d/f"));
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d/f", 0), -ENOENT);
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d", AT_REMOVEDIR), 0);
	EXPECT_FALSE(exists(dir.fd(), "d"));
	EXPECT_EQ(ops().unlinkat(dir.fd(), "d", AT_REMOVEDIR), -ENOENT);
	EXPECT_EQ(ops().mkdirat(closed_fd(), "d", 0750), -EBADF);
}

TEST_P(Ops, Renameat)
{
	put_file(dir.fd(), "a", "AAA");
	put_file(dir.fd(), "b", "BBB");
	EXPECT_EQ(ops().renameat(dir.fd(), "a", dir.fd(), "c", 0), 0);
	EXPECT_FALSE(exists(dir.fd(), "a"));
	EXPECT_EQ(file_at(dir.fd(), "c"), "AAA");
	EXPECT_EQ(ops().renameat(dir.fd(), "a", dir.fd(), "c", 0), -ENOENT);
	EXPECT_EQ(ops().renameat(dir.fd(), "c", dir.fd(), "b", RENAME_NOREPLACE), -EEXIST);
	EXPECT_EQ(file_at(dir.fd(), "b"), "BBB");
	EXPECT_EQ(ops().renameat(dir.fd(), "c", dir.fd(), "b", RENAME_EXCHANGE), 0);
	EXPECT_EQ(file_at(dir.fd(), "b"), "AAA");
	EXPECT_EQ(file_at(dir.fd(), "c"), "BBB");
	EXPECT_EQ(ops().renameat(dir.fd(), "c", dir.fd(), "b", 0), 0) << "plain rename replaces";
	EXPECT_EQ(file_at(dir.fd(), "b"), "BBB");
	EXPECT_FALSE(exists(dir.fd(), "c"));

	ASSERT_EQ(mkdirat(dir.fd(), "d1", 0755), 0);
	ASSERT_EQ(mkdirat(dir.fd(), "d2", 0755), 0);
	put_file(dir.fd(), "d2/x", "x");
	EXPECT_EQ(ops().renameat(dir.fd(), "d1", dir.fd(), "d2", 0), -ENOTEMPTY);
	EXPECT_EQ(ops().renameat(dir.fd(), "b", dir.fd(), "d1", 0), -EISDIR);
	EXPECT_EQ(ops().renameat(dir.fd(), "d1", dir.fd(), "b", 0), -ENOTDIR);

	int d2 = openat(dir.fd(), "d2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_EQ(ops().renameat(dir.fd(), "b", d2, "moved", 0), 0) << "across directory fds";
	EXPECT_EQ(file_at(d2, "moved"), "BBB");
	close(d2);
}

// ---------------------------------------------------------------------------------------------
// pipes

TEST_P(Ops, SpliceThroughAPipe)
{
	std::string content = pattern(10000, 3);
	put_file(dir.fd(), "src", content);
	int in = openat(dir.fd(), "src", O_RDONLY | O_CLOEXEC);
	int out = openat(dir.fd(), "dst", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(in, 0);
	ASSERT_GE(out, 0);
	Pipe p;
	EXPECT_EQ(ops().splice(in, 1000, p.w, -1, 4000, 0), 4000);
	EXPECT_EQ(position(in), 0) << "an explicit offset leaves the position alone";
	EXPECT_EQ(ops().splice(p.r, -1, out, 0, 4000, 0), 4000);
	EXPECT_EQ(file_at(dir.fd(), "dst"), content.substr(1000, 4000));

	EXPECT_EQ(ops().splice(in, -1, p.w, -1, 100, 0), 100) << "-1: the file position";
	EXPECT_EQ(position(in), 100);
	EXPECT_EQ(ops().splice(p.r, -1, out, -1, 100, 0), 100);
	EXPECT_EQ(file_at(dir.fd(), "dst"), content.substr(0, 100) + content.substr(1100, 3900));

	EXPECT_EQ(ops().splice(in, 20000, p.w, -1, 100, 0), 0) << "EOF of the input";
	EXPECT_EQ(ops().splice(p.r, 0, out, -1, 100, 0), -ESPIPE) << "a pipe has no offset";
	EXPECT_EQ(ops().splice(in, 0, out, 0, 100, 0), -EINVAL) << "one end must be a pipe";
	EXPECT_EQ(ops().splice(closed_fd(), -1, p.w, -1, 100, 0), -EBADF);
	EXPECT_EQ(ops().splice(in, 0, p.w, -1, 100, 0x80000000u), -EINVAL) << "unknown flag";
	close(in);
	close(out);
}

// ---------------------------------------------------------------------------------------------
// sockets

TEST_P(Ops, LoopbackConversation)
{
	int srv = ops().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(srv, 0);
	EXPECT_EQ(fcntl(srv, F_GETFD), FD_CLOEXEC) << "type flags must reach the kernel";
	int one = 1;
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(lu_bind(srv, (sockaddr *)&addr, sizeof addr), 0);
	EXPECT_EQ(lu_bind(srv, (sockaddr *)&addr, sizeof addr), -EINVAL) << "already bound";
	ASSERT_EQ(lu_listen(srv, 8), 0);
	socklen_t alen = sizeof addr;
	ASSERT_EQ(getsockname(srv, (sockaddr *)&addr, &alen), 0);

	int cli = ops().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(cli, 0);
	ASSERT_EQ(ops().connect(cli, (sockaddr *)&addr, sizeof addr), 0);
	EXPECT_EQ(ops().connect(cli, (sockaddr *)&addr, sizeof addr), -EISCONN);

	sockaddr_in peer{};
	socklen_t plen = sizeof peer;
	int conn = ops().accept(srv, (sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	ASSERT_GE(conn, 0);
	EXPECT_EQ(plen, sizeof peer);
	EXPECT_EQ(peer.sin_family, AF_INET);
	EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	sockaddr_in local{};
	socklen_t llen = sizeof local;
	getsockname(cli, (sockaddr *)&local, &llen);
	EXPECT_EQ(peer.sin_port, local.sin_port) << "accept reports the client's address";

	char buf[64];
	EXPECT_EQ(ops().send(cli, "ping", 4, MSG_NOSIGNAL), 4);
	ASSERT_EQ(ops().recv(conn, buf, sizeof buf, 0), 4);
	EXPECT_EQ(std::string(buf, 4), "ping");
	EXPECT_EQ(ops().send(conn, "pong!", 5, MSG_NOSIGNAL), 5);
	ASSERT_EQ(ops().recv(cli, buf, 2, MSG_PEEK), 2) << "flags reach the kernel";
	ASSERT_EQ(ops().recv(cli, buf, sizeof buf, 0), 5);
	EXPECT_EQ(std::string(buf, 5), "pong!");

	EXPECT_EQ(ops().shutdown(cli, SHUT_WR), 0);
	EXPECT_EQ(ops().recv(conn, buf, sizeof buf, 0), 0) << "half-close reads as EOF";
	EXPECT_EQ(ops().send(cli, "x", 1, MSG_NOSIGNAL), -EPIPE) << "after SHUT_WR";
	EXPECT_EQ(ops().send(conn, "still", 5, MSG_NOSIGNAL), 5) << "the other direction lives";
	ASSERT_EQ(ops().recv(cli, buf, sizeof buf, 0), 5);

	EXPECT_EQ(ops().close(conn), 0);
	EXPECT_EQ(ops().recv(cli, buf, sizeof buf, 0), 0) << "peer close reads as EOF";
	EXPECT_EQ(ops().close(cli), 0);
	EXPECT_EQ(ops().close(srv), 0);
}

TEST_P(Ops, SocketErrors)
{
	EXPECT_EQ(ops().socket(AF_INET, 12345, 0), -EINVAL);
	EXPECT_EQ(ops().socket(12345, SOCK_STREAM, 0), -EAFNOSUPPORT);

	sockaddr_in nowhere{};
	{
		Listener l; // an ephemeral port that nobody listens on once l is gone
		ASSERT_GE(l.fd, 0);
		nowhere = l.addr;
	}
	int s = ops().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(s, 0);
	char buf[8];
	EXPECT_EQ(ops().shutdown(s, SHUT_RDWR), -ENOTCONN);
	EXPECT_EQ(ops().send(s, "x", 1, MSG_NOSIGNAL), -EPIPE);
	EXPECT_EQ(ops().accept(s, nullptr, nullptr, 0), -EINVAL) << "not listening";
	EXPECT_EQ(ops().connect(s, (sockaddr *)&nowhere, sizeof nowhere), -ECONNREFUSED);
	ops().close(s);

	int f = openat(dir.fd(), "plain", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	EXPECT_EQ(ops().recv(f, buf, sizeof buf, 0), -ENOTSOCK);
	EXPECT_EQ(ops().send(f, "x", 1, 0), -ENOTSOCK);
	EXPECT_EQ(ops().shutdown(f, SHUT_RDWR), -ENOTSOCK);
	EXPECT_EQ(ops().accept(f, nullptr, nullptr, 0), -ENOTSOCK);
	EXPECT_EQ(ops().connect(f, (sockaddr *)&nowhere, sizeof nowhere), -ENOTSOCK);
	EXPECT_EQ(lu_bind(f, (sockaddr *)&nowhere, sizeof nowhere), -ENOTSOCK);
	EXPECT_EQ(lu_listen(f, 1), -ENOTSOCK);
	close(f);
}

// A megabyte each way between two threads, each thread on its own ring.
TEST_P(Ops, BulkTransferBetweenThreads)
{
	Listener l;
	ASSERT_GE(l.fd, 0);
	const std::string payload = pattern(1 << 20, 5);
	std::atomic<long> sent{0};
	std::thread client([&] {
		int c = ops().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || ops().connect(c, (sockaddr *)&l.addr, sizeof l.addr) != 0) {
			sent = -1;
			return;
		}
		size_t off = 0;
		while (off < payload.size()) {
			ssize_t n = ops().send(c, payload.data() + off, payload.size() - off,
					       MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		sent = (long)off;
		ops().close(c);
	});
	int conn = ops().accept(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
	ASSERT_GE(conn, 0);
	std::string got;
	std::vector<char> buf(65536);
	ssize_t n;
	while ((n = ops().recv(conn, buf.data(), buf.size(), 0)) > 0)
		got.append(buf.data(), (size_t)n);
	client.join();
	EXPECT_EQ(n, 0);
	EXPECT_EQ(sent.load(), (long)payload.size());
	EXPECT_TRUE(got == payload) << "received " << got.size() << " bytes";
	ops().close(conn);
}

// ---------------------------------------------------------------------------------------------
// time

TEST_P(Ops, SleepLastsAtLeastTheRequest)
{
	for (uint64_t ns : {0ull, 1000ull, 5000000ull, 30000000ull}) {
		int64_t t0 = now_ns();
		EXPECT_EQ(ops().sleep_ns(ns), 0);
		int64_t took = now_ns() - t0;
		EXPECT_GE(took, (int64_t)ns);
		EXPECT_LT(took, (int64_t)ns + 2000000000) << "a loose ceiling: 2 s late";
	}
}

// ---------------------------------------------------------------------------------------------
// bad input and short transfers

TEST_P(Ops, InvalidAndClosedDescriptors)
{
	char buf[8] = {};
	sockaddr_in a{};
	for (int fd : {-1, closed_fd(), 1 << 20}) {
		SCOPED_TRACE("fd " + std::to_string(fd));
		EXPECT_EQ(ops().read(fd, buf, 1), -EBADF);
		EXPECT_EQ(ops().write(fd, buf, 1), -EBADF);
		EXPECT_EQ(ops().pread(fd, buf, 1, 0), -EBADF);
		EXPECT_EQ(ops().pwrite(fd, buf, 1, 0), -EBADF);
		EXPECT_EQ(ops().fsync(fd), -EBADF);
		EXPECT_EQ(ops().close(fd), -EBADF);
		EXPECT_EQ(ops().recv(fd, buf, 1, 0), -EBADF);
		EXPECT_EQ(ops().send(fd, buf, 1, 0), -EBADF);
		EXPECT_EQ(ops().shutdown(fd, SHUT_RDWR), -EBADF);
		EXPECT_EQ(ops().accept(fd, nullptr, nullptr, 0), -EBADF);
		EXPECT_EQ(ops().connect(fd, (sockaddr *)&a, sizeof a), -EBADF);
		EXPECT_EQ(ops().splice(fd, -1, fd, -1, 1, 0), -EBADF);
		EXPECT_EQ(ops().openat(fd, "rel", O_RDONLY, 0), -EBADF);
		EXPECT_EQ(ops().unlinkat(fd, "rel", 0), -EBADF);
		EXPECT_EQ(ops().renameat(fd, "a", fd, "b", 0), -EBADF);
	}
}

TEST_P(Ops, WrongAccessModeAndFileType)
{
	put_file(dir.fd(), "f", "abc");
	char buf[8];
	int ro = openat(dir.fd(), "f", O_RDONLY | O_CLOEXEC);
	int wo = openat(dir.fd(), "f", O_WRONLY | O_CLOEXEC);
	EXPECT_EQ(ops().write(ro, "x", 1), -EBADF);
	EXPECT_EQ(ops().pwrite(ro, "x", 1, 0), -EBADF);
	EXPECT_EQ(ops().read(wo, buf, 1), -EBADF);
	EXPECT_EQ(ops().pread(wo, buf, 1, 0), -EBADF);
	close(ro);
	close(wo);

	int d = openat(dir.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_EQ(ops().read(d, buf, sizeof buf), -EISDIR);
	EXPECT_EQ(ops().pread(d, buf, sizeof buf, 0), -EISDIR);
	EXPECT_EQ(lu_read_full(&ops(), d, buf, sizeof buf, -1), -EISDIR);
	close(d);
}

// Transfers of no bytes get the syscall's checks (the ring's zero-length read of a directory
// gave 0; tests/fuzz/crashes/pread-dir-zero-len).
TEST_P(Ops, ZeroLengthTransfersAreCheckedAsTheSyscallChecksThem)
{
	put_file(dir.fd(), "f", "abc");
	char buf[1];
	int d = openat(dir.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ro = openat(dir.fd(), "f", O_RDONLY | O_CLOEXEC);
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	EXPECT_EQ(ops().pread(d, buf, 0, 0), -EISDIR);
	EXPECT_EQ(ops().read(d, buf, 0), -EISDIR);
	EXPECT_EQ(ops().pread(ro, buf, 0, 0), 0);
	EXPECT_EQ(ops().pread(ro, buf, 0, -1), -EINVAL);
	EXPECT_EQ(ops().pwrite(ro, buf, 0, 0), -EBADF);
	EXPECT_EQ(ops().pread(p[0], buf, 0, 0), -ESPIPE);
	EXPECT_EQ(ops().pwrite(p[1], buf, 0, 0), -ESPIPE);
	EXPECT_EQ(ops().pread(-1, buf, 0, 0), -EBADF);
	close(d);
	close(ro);
	close(p[0]);
	close(p[1]);
}

TEST_P(Ops, DiskFullIsENOSPC)
{
	int fd = ops().openat(AT_FDCWD, "/dev/full", O_WRONLY | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(ops().write(fd, "x", 1), -ENOSPC);
	EXPECT_EQ(ops().pwrite(fd, "x", 1, 0), -ENOSPC);
	EXPECT_EQ(lu_write_all(&ops(), fd, "xyz", 3, -1), -ENOSPC);
	ops().close(fd);
}

TEST_P(Ops, ShortReadFromAPipe)
{
	Pipe p;
	ASSERT_EQ(write(p.w, "0123456789", 10), 10);
	char buf[100];
	EXPECT_EQ(ops().read(p.r, buf, sizeof buf), 10) << "a pipe read returns what is there";
	ASSERT_EQ(write(p.w, "abcdef", 6), 6);
	EXPECT_EQ(lu_read_full(&ops(), p.r, buf, 4, -1), 4);
	EXPECT_EQ(std::string(buf, 4), "abcd");
	EXPECT_EQ(ops().read(p.r, buf, sizeof buf), 2) << "read_full took no more than asked";
	EXPECT_EQ(ops().pread(p.r, buf, 1, 0), -ESPIPE);
}

// lu_read_full keeps reading across short reads and stops only at EOF.
TEST_P(Ops, ReadFullStopsOnlyAtEof)
{
	Pipe p;
	std::thread writer([&] {
		for (const char *chunk : {"first-", "second-", "third"}) {
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
			if (write(p.w, chunk, strlen(chunk)) < 0)
				break;
		}
		p.close_w();
	});
	char buf[100];
	ssize_t n = lu_read_full(&ops(), p.r, buf, sizeof buf, -1);
	writer.join();
	ASSERT_EQ(n, 18);
	EXPECT_EQ(std::string(buf, 18), "first-second-third");
	EXPECT_EQ(lu_read_full(&ops(), p.r, buf, sizeof buf, -1), 0);

	std::string content = pattern(10000, 7);
	put_file(dir.fd(), "f", content);
	int fd = openat(dir.fd(), "f", O_RDONLY | O_CLOEXEC);
	std::vector<char> big(20000);
	EXPECT_EQ(lu_read_full(&ops(), fd, big.data(), big.size(), 100), 9900);
	EXPECT_EQ(std::string(big.data(), 9900), content.substr(100));
	EXPECT_EQ(position(fd), 0) << "an explicit offset does not move the position";
	EXPECT_EQ(lu_read_full(&ops(), fd, big.data(), 3000, -1), 3000);
	EXPECT_EQ(position(fd), 3000);
	close(fd);
}

TEST_P(Ops, WriteAllAtOffsetAndPosition)
{
	int fd = openat(dir.fd(), "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	std::string content = pattern(300000, 9);
	EXPECT_EQ(lu_write_all(&ops(), fd, content.data(), content.size(), -1),
		  (ssize_t)content.size());
	EXPECT_EQ(position(fd), (off_t)content.size());
	EXPECT_EQ(lu_write_all(&ops(), fd, "HEAD", 4, 0), 4);
	EXPECT_EQ(position(fd), (off_t)content.size());
	close(fd);
	EXPECT_EQ(file_at(dir.fd(), "f"), "HEAD" + content.substr(4));
}

// A nonblocking pipe takes what fits: write is short, then EAGAIN.  lu_write_all reports the
// EAGAIN, and what it had written stays in the pipe.
TEST_P(Ops, ShortWriteToAFullNonblockingPipe)
{
	Pipe p;
	ASSERT_EQ(fcntl(p.w, F_SETFL, O_NONBLOCK), 0);
	int cap = fcntl(p.w, F_GETPIPE_SZ);
	ASSERT_GT(cap, 0);
	std::string big = pattern((size_t)cap * 2, 11);
	EXPECT_EQ(ops().write(p.w, big.data(), big.size()), cap);
	EXPECT_EQ(ops().write(p.w, "x", 1), -EAGAIN);

	char drain[4096];
	int avail = 0;
	while (read(p.r, drain, sizeof drain) > 0 && ioctl(p.r, FIONREAD, &avail) == 0 && avail)
		;
	EXPECT_EQ(lu_write_all(&ops(), p.w, big.data(), big.size(), -1), -EAGAIN);
	ASSERT_EQ(ioctl(p.r, FIONREAD, &avail), 0);
	EXPECT_EQ(avail, cap) << "bytes written before EAGAIN stay written";
	std::string got((size_t)cap, '\0');
	ASSERT_EQ(read(p.r, &got[0], got.size()), cap);
	EXPECT_TRUE(got == big.substr(0, (size_t)cap));
}

// The ring would wait for readiness; a nonblocking fd must keep its syscall meaning.
TEST_P(Ops, NonblockingDescriptorsDoNotWait)
{
	Pipe p;
	ASSERT_EQ(fcntl(p.r, F_SETFL, O_NONBLOCK), 0);
	char buf[8];
	EXPECT_EQ(ops().read(p.r, buf, sizeof buf), -EAGAIN);
	EXPECT_EQ(lu_read_full(&ops(), p.r, buf, sizeof buf, -1), -EAGAIN);

	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	EXPECT_EQ(ops().recv(sv[0], buf, sizeof buf, 0), -EAGAIN);
	close(sv[0]);
	close(sv[1]);

	Listener l;
	ASSERT_GE(l.fd, 0);
	ASSERT_EQ(fcntl(l.fd, F_SETFL, O_NONBLOCK), 0);
	EXPECT_EQ(ops().accept(l.fd, nullptr, nullptr, 0), -EAGAIN);
	int c = ops().socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_GE(c, 0);
	int r = ops().connect(c, (sockaddr *)&l.addr, sizeof l.addr);
	EXPECT_TRUE(r == -EINPROGRESS || r == 0) << r;
	pollfd pf{l.fd, POLLIN, 0};
	ASSERT_EQ(poll(&pf, 1, 5000), 1);
	int a = ops().accept(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
	EXPECT_GE(a, 0) << "a pending connection is accepted at once";
	close(a);
	close(c);
}

// One call moves at most 1 GiB; a longer length (even one above 4 GiB, which would wrap the
// SQE's 32-bit len) is a short transfer.  /dev/null never touches the buffer, so the untouched
// reservation costs no memory.
TEST_P(Ops, HugeLengthsAreClampedNotWrapped)
{
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
	// TSan's write() interceptor records an access to every byte moved: gigabytes of shadow.
	if (GetParam() == &lu_posix_ops)
		GTEST_SKIP() << "too costly under TSan; the plain and ASan builds check it";
#endif
#endif
	const size_t len = (4ull << 30) + 7;
	void *buf = mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(buf, MAP_FAILED);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	EXPECT_EQ(ops().write(fd, buf, len), 1 << 30);
	EXPECT_EQ(ops().pwrite(fd, buf, len, 0), 1 << 30);
	EXPECT_EQ(lu_write_all(&ops(), fd, buf, len, -1), (ssize_t)len);
	close(fd);
	munmap(buf, len);
}

// ---------------------------------------------------------------------------------------------
// EINTR: a signal handler without SA_RESTART, fired by a timer aimed at this thread while it
// is blocked in the operation.  The operation must still deliver its real result.

std::atomic<int> g_signals{0};

class Interrupter {
public:
	explicit Interrupter(int period_ms)
	{
		struct sigaction sa {};
		sa.sa_handler = [](int) { g_signals.fetch_add(1, std::memory_order_relaxed); };
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; // no SA_RESTART: blocking syscalls see EINTR
		sigaction(SIGUSR1, &sa, &old_);
		g_signals = 0;
		sigevent ev{};
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = SIGUSR1;
		ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		ok_ = timer_create(CLOCK_MONOTONIC, &ev, &timer_) == 0;
		itimerspec its{};
		its.it_value.tv_nsec = its.it_interval.tv_nsec = period_ms * 1000000L;
		ok_ = ok_ && timer_settime(timer_, 0, &its, nullptr) == 0;
	}
	~Interrupter()
	{
		if (ok_)
			timer_delete(timer_);
		sigaction(SIGUSR1, &old_, nullptr);
	}
	bool ok() const { return ok_; }
	// Wait (on another thread) until the timer has interrupted the target a few times.  A
	// sanitizer may defer handlers until the target leaves the kernel, so give up after a while.
	static void await_signals(int n)
	{
		int64_t deadline = now_ns() + 500000000;
		while (g_signals.load() < n && now_ns() < deadline)
			std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}

private:
	struct sigaction old_ {};
	timer_t timer_{};
	bool ok_ = false;
};

TEST_P(Ops, SignalDuringPipeReadDoesNotLoseData)
{
	Pipe p;
	char buf[64] = {};
	ssize_t n;
	{
		Interrupter in(5);
		ASSERT_TRUE(in.ok());
		std::thread writer([&] {
			Interrupter::await_signals(5);
			if (write(p.w, "payload", 7) != 7)
				abort();
		});
		n = ops().read(p.r, buf, sizeof buf);
		writer.join();
	}
	EXPECT_EQ(n, 7);
	EXPECT_EQ(std::string(buf, 7), "payload");
	EXPECT_GE(g_signals.load(), 1) << "the timer must really have interrupted the read";
}

TEST_P(Ops, SignalDuringRecvDoesNotLoseData)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	char buf[64] = {};
	ssize_t n;
	{
		Interrupter in(5);
		ASSERT_TRUE(in.ok());
		std::thread writer([&] {
			Interrupter::await_signals(5);
			if (send(sv[1], "datagram", 8, 0) != 8)
				abort();
		});
		n = ops().recv(sv[0], buf, sizeof buf, 0);
		writer.join();
	}
	EXPECT_EQ(n, 8);
	EXPECT_EQ(std::string(buf, 8), "datagram");
	EXPECT_GE(g_signals.load(), 1);
	close(sv[0]);
	close(sv[1]);
}

TEST_P(Ops, SignalDuringSleepDoesNotShortenIt)
{
	int64_t t0 = now_ns(), took;
	int r;
	{
		Interrupter in(3);
		ASSERT_TRUE(in.ok());
		r = ops().sleep_ns(100000000);
		took = now_ns() - t0;
	}
	EXPECT_EQ(r, 0);
	EXPECT_GE(took, 100000000);
	EXPECT_GE(g_signals.load(), 1);
}

// ---------------------------------------------------------------------------------------------
// Differential: the same sequence under both backends, results compared exactly.

class Differential : public testing::Test {
protected:
	void SetUp() override
	{
		std::string why;
		if (!uring_usable(&why))
			GTEST_SKIP() << why;
	}
};

using Trace = std::vector<std::string>;

// Records each result as text; fds are recorded as "fd" so fd numbering cannot differ.
struct Recorder {
	Trace t;
	void r(const char *what, long long v) { t.push_back(std::string(what) + "=" + std::to_string(v)); }
	int fd(const char *what, int v)
	{
		t.push_back(std::string(what) + "=" + (v >= 0 ? "fd" : std::to_string(v)));
		return v;
	}
	void s(const char *what, const std::string &v) { t.push_back(std::string(what) + "=" + v); }
};

Trace file_script(const LuOps &o)
{
	TempDir dir;
	Recorder rec;
	char buf[256];
	int d = dir.fd();
	int fd = rec.fd("open-new", o.openat(d, "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
	rec.fd("open-excl", o.openat(d, "f", O_RDWR | O_CREAT | O_EXCL, 0640));
	rec.r("write", o.write(fd, "The quick brown fox", 19));
	rec.r("pos", position(fd));
	rec.r("read-eof", o.read(fd, buf, sizeof buf));
	rec.r("pwrite", o.pwrite(fd, "slow", 4, 4));
	rec.r("pread", o.pread(fd, buf, sizeof buf, 0));
	rec.s("content", std::string(buf, 19));
	rec.r("pread-mid", o.pread(fd, buf, 5, 10));
	rec.s("mid", std::string(buf, 5));
	rec.r("lseek", lseek(fd, 2, SEEK_SET));
	rec.r("read", o.read(fd, buf, 6));
	rec.s("read-data", std::string(buf, 6));
	rec.r("pos", position(fd));
	rec.r("pread-neg", o.pread(fd, buf, 1, -5));
	rec.r("fsync", o.fsync(fd));
	struct statx sx {};
	rec.r("statx", o.statx(d, "f", 0, STATX_BASIC_STATS, &sx));
	rec.r("size", (long long)sx.stx_size);
	rec.r("mode", sx.stx_mode);
	rec.r("nlink", sx.stx_nlink);
	rec.r("close", o.close(fd));
	rec.r("close-again", o.close(fd));
	rec.r("read-closed", o.read(fd, buf, 1));
	rec.r("mkdir", o.mkdirat(d, "dir", 0700));
	rec.r("mkdir-again", o.mkdirat(d, "dir", 0700));
	rec.r("mkdir-deep", o.mkdirat(d, "no/such", 0700));
	rec.r("rename-in", o.renameat(d, "f", d, "dir/g", 0));
	rec.r("rmdir-full", o.unlinkat(d, "dir", AT_REMOVEDIR));
	rec.r("unlink-dir", o.unlinkat(d, "dir", 0));
	rec.r("rename-missing", o.renameat(d, "f", d, "h", 0));
	rec.r("mkdir-2", o.mkdirat(d, "dir2", 0700));
	rec.r("rename-noreplace", o.renameat(d, "dir2", d, "dir", RENAME_NOREPLACE));
	rec.r("rename-over-full", o.renameat(d, "dir2", d, "dir", 0));
	rec.r("statx-gone", o.statx(d, "f", 0, STATX_SIZE, &sx));
	rec.r("statx-moved", o.statx(d, "dir/g", 0, STATX_SIZE, &sx));
	rec.r("moved-size", (long long)sx.stx_size);
	rec.r("unlink", o.unlinkat(d, "dir/g", 0));
	rec.r("unlink-again", o.unlinkat(d, "dir/g", 0));
	rec.r("rmdir", o.unlinkat(d, "dir", AT_REMOVEDIR));
	int dd = rec.fd("open-dir", o.openat(d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
	rec.r("read-dir", o.read(dd, buf, sizeof buf));
	rec.r("close-dir", o.close(dd));
	int full = rec.fd("open-full", o.openat(AT_FDCWD, "/dev/full", O_WRONLY | O_CLOEXEC, 0));
	rec.r("write-full", o.write(full, "x", 1));
	rec.r("write-all-full", lu_write_all(&o, full, "xyz", 3, -1));
	rec.r("close-full", o.close(full));

	Pipe p;
	rec.r("pipe-write", o.write(p.w, "0123456789", 10));
	rec.r("pipe-read-short", o.read(p.r, buf, 100));
	rec.r("pipe-pread", o.pread(p.r, buf, 1, 0));
	rec.r("pipe-pwrite", o.pwrite(p.w, "x", 1, 0));
	rec.r("pipe-fsync", o.fsync(p.w));
	put_file(d, "src", pattern(5000, 2));
	int src = rec.fd("open-src", o.openat(d, "src", O_RDONLY | O_CLOEXEC, 0));
	rec.r("splice-in", o.splice(src, 100, p.w, -1, 3000, 0));
	rec.r("splice-out-off", o.splice(p.r, 0, src, 0, 10, 0));
	rec.r("splice-no-pipe", o.splice(src, 0, src, 0, 10, 0));
	rec.r("splice-zero-len", o.splice(closed_fd(), 0, closed_fd(), 0, 0, 0));
	rec.r("splice-bad-flag", o.splice(src, 0, p.w, -1, 10, 1u << 20));
	rec.r("splice-offset-on-wronly-pipe-end", o.splice(p.w, 0, src, -1, 10, 0));
	rec.r("pipe-read-spliced", lu_read_full(&o, p.r, buf, sizeof buf, -1));
	rec.s("spliced", std::string(buf, sizeof buf));
	Pipe empty;
	fcntl(empty.r, F_SETFL, O_NONBLOCK);
	rec.r("splice-empty-nonblocking", o.splice(empty.r, -1, p.w, -1, 10, 0));
	rec.r("read-empty-nonblocking", o.read(empty.r, buf, 10));
	rec.r("close-src", o.close(src));
	p.close_w();
	rec.r("pipe-read-eof", lu_read_full(&o, p.r, buf, sizeof buf, -1));
	return rec.t;
}

Trace socket_script(const LuOps &o)
{
	Recorder rec;
	char buf[64];
	int bad = rec.fd("socket-bad", o.socket(AF_INET, SOCK_STREAM, 99));
	(void)bad;
	int srv = rec.fd("socket", o.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rec.r("bind", lu_bind(srv, (sockaddr *)&addr, sizeof addr));
	socklen_t alen = sizeof addr;
	getsockname(srv, (sockaddr *)&addr, &alen);
	int early = rec.fd("socket-early", o.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	rec.r("connect-before-listen", o.connect(early, (sockaddr *)&addr, sizeof addr));
	rec.r("close-early", o.close(early));
	rec.r("accept-unlistened", o.accept(srv, nullptr, nullptr, 0));
	rec.r("listen", lu_listen(srv, 4));
	int cli = rec.fd("socket-cli", o.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	rec.r("recv-unconnected", o.recv(cli, buf, sizeof buf, MSG_DONTWAIT));
	rec.r("connect", o.connect(cli, (sockaddr *)&addr, sizeof addr));
	rec.r("connect-again", o.connect(cli, (sockaddr *)&addr, sizeof addr));
	sockaddr_in peer{};
	socklen_t plen = sizeof peer;
	int conn = rec.fd("accept", o.accept(srv, (sockaddr *)&peer, &plen, SOCK_CLOEXEC));
	rec.r("peer-len", plen);
	rec.r("peer-addr", ntohl(peer.sin_addr.s_addr));
	rec.r("recv-empty-dontwait", o.recv(conn, buf, sizeof buf, MSG_DONTWAIT));
	rec.r("send", o.send(cli, "hello", 5, MSG_NOSIGNAL));
	rec.r("recv-short", o.recv(conn, buf, 3, 0));
	rec.r("recv-rest", o.recv(conn, buf, sizeof buf, 0));
	rec.r("shutdown-wr", o.shutdown(cli, SHUT_WR));
	rec.r("recv-eof", o.recv(conn, buf, sizeof buf, 0));
	rec.r("send-after-shutdown", o.send(cli, "x", 1, MSG_NOSIGNAL));
	rec.r("shutdown-bad-how", o.shutdown(cli, 7));
	rec.r("close-conn", o.close(conn));
	rec.r("recv-peer-closed", o.recv(cli, buf, sizeof buf, 0));
	rec.r("close-cli", o.close(cli));
	rec.r("close-srv", o.close(srv));
	int late = rec.fd("socket-late", o.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	rec.r("connect-refused", o.connect(late, (sockaddr *)&addr, sizeof addr));
	rec.r("close-late", o.close(late));
	return rec.t;
}

void expect_same(const Trace &u, const Trace &p)
{
	ASSERT_EQ(u.size(), p.size());
	for (size_t i = 0; i < u.size(); i++)
		EXPECT_EQ(u[i], p[i]) << "step " << i;
}

TEST_F(Differential, FileSequence)
{
	Trace u = file_script(lu_uring_ops), p = file_script(lu_posix_ops);
	expect_same(u, p);
	// The script is not vacuous: it really exercised errors and data.
	EXPECT_NE(std::find(p.begin(), p.end(), "rmdir-full=" + std::to_string(-ENOTEMPTY)), p.end());
	EXPECT_NE(std::find(p.begin(), p.end(), "content=The slowk brown fox"), p.end());
}

TEST_F(Differential, SocketSequence)
{
	Trace u = socket_script(lu_uring_ops), p = socket_script(lu_posix_ops);
	expect_same(u, p);
	EXPECT_NE(std::find(p.begin(), p.end(), "recv-short=3"), p.end());
	EXPECT_NE(std::find(p.begin(), p.end(),
			    "connect-refused=" + std::to_string(-ECONNREFUSED)),
		  p.end());
}

// ---------------------------------------------------------------------------------------------
// lu_ops() follows the backend decision, in a fresh process per LEAN_IO_BACKEND value.

TEST(OpsDispatch, MatchesBackend)
{
	const char *env = getenv("LEAN_IO_BACKEND");
	const LuOps *o = lu_ops();
	EXPECT_EQ(o, lu_backend_is_uring() ? &lu_uring_ops : &lu_posix_ops);
	if (env && !strcmp(env, "posix"))
		EXPECT_EQ(o, &lu_posix_ops);
	if (env && !strcmp(env, "uring"))
		EXPECT_EQ(o, &lu_uring_ops);
}

int run_self(const char *backend)
{
	std::string self(4096, '\0');
	ssize_t n = readlink("/proc/self/exe", &self[0], self.size());
	if (n <= 0)
		return -1;
	self.resize((size_t)n);
	std::vector<std::string> env_s;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LEAN_IO_BACKEND=", 16) && strncmp(*e, "GTEST_", 6))
			env_s.push_back(*e);
	env_s.push_back(std::string("LEAN_IO_BACKEND=") + backend);
	std::vector<char *> envp;
	for (auto &s : env_s)
		envp.push_back(&s[0]);
	envp.push_back(nullptr);
	std::string filter = "--gtest_filter=OpsDispatch.MatchesBackend";
	char *argv[] = {&self[0], &filter[0], nullptr};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int r = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, envp.data());
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(OpsDispatch, FollowsLeanIoBackend)
{
	EXPECT_EQ(run_self("posix"), 0);
	std::string why;
	if (uring_usable(&why))
		EXPECT_EQ(run_self("uring"), 0);
}

} // namespace
