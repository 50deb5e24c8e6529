// The ring's emulation (emu.c) behind the slot table, against real kernel objects: files in a
// temporary directory, pipes, FIFOs, socketpairs, loopback TCP and real timers.  Most tests are
// differential: the same scenario runs on an LU_SLOTS_RING table (one thread) and on an
// LU_SLOTS_EMULATED table (another thread: a thread has one table), and every completion
// (user_data, res, flags) and every byte moved must be the same; each also checks the log
// against what the kernel is known to answer, so that both engines cannot be wrong together.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "emu.h"
#include "ops.h"
#include "slots.h"
#include "test_util.h"

namespace {


// A scenario that hangs (an operation waiting for ever) fails the test instead of stalling it.
class Watchdog {
public:
	explicit Watchdog(const char *what, int seconds = 30)
		: th_([this, what, seconds] {
			  std::unique_lock<std::mutex> g(mu_);
			  if (!cv_.wait_for(g, std::chrono::seconds(seconds), [this] { return done_; })) {
				  fprintf(stderr, "%s: hung for %d s\n", what, seconds);
				  abort();
			  }
		  })
	{
	}
	~Watchdog()
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			done_ = true;
		}
		cv_.notify_all();
		th_.join();
	}

private:
	std::mutex mu_;
	std::condition_variable cv_;
	bool done_ = false;
	std::thread th_;
};

// io_uring rings this process has mapped (a ring keeps its mappings after its fd is closed).
int ring_mappings()
{
	std::ifstream maps("/proc/self/maps");
	std::string line;
	int n = 0;
	while (std::getline(maps, line))
		n += line.find("anon_inode:[io_uring]") != std::string::npos;
	return n;
}


// ---- SQEs, built as lean_ring.cpp builds them ----

io_uring_sqe sqe_of(uint8_t opcode, int fd)
{
	io_uring_sqe sqe{};
	sqe.opcode = opcode;
	sqe.fd = fd;
	return sqe;
}

io_uring_sqe rw_sqe(uint8_t opcode, int fd, const void *buf, size_t len, uint64_t off)
{
	io_uring_sqe sqe = sqe_of(opcode, fd);
	sqe.addr = (uintptr_t)buf;
	sqe.len = (uint32_t)len;
	sqe.off = off;
	return sqe;
}

io_uring_sqe msg_sqe(uint8_t opcode, int fd, const void *buf, size_t len, uint32_t flags)
{
	io_uring_sqe sqe = rw_sqe(opcode, fd, buf, len, 0);
	sqe.msg_flags = flags;
	return sqe;
}

io_uring_sqe openat_sqe(int dirfd, const char *path, int flags, mode_t mode)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_OPENAT, dirfd);
	sqe.addr = (uintptr_t)path;
	sqe.open_flags = (uint32_t)flags;
	sqe.len = mode;
	return sqe;
}

io_uring_sqe statx_sqe(const char *path, struct statx *out)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_STATX, AT_FDCWD);
	sqe.addr = (uintptr_t)path;
	sqe.len = STATX_SIZE | STATX_MODE;
	sqe.addr2 = (uintptr_t)out;
	return sqe;
}

io_uring_sqe accept_sqe(int fd)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_ACCEPT, fd);
	sqe.accept_flags = SOCK_CLOEXEC;
	return sqe;
}

io_uring_sqe splice_sqe(int in, uint64_t off_in, int out, uint64_t off_out, unsigned len,
			unsigned flags)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_SPLICE, out);
	sqe.splice_fd_in = in;
	sqe.splice_off_in = off_in;
	sqe.off = off_out;
	sqe.len = len;
	sqe.splice_flags = flags;
	return sqe;
}

io_uring_sqe fsync_sqe(int fd, unsigned flags)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_FSYNC, fd);
	sqe.fsync_flags = flags;
	return sqe;
}

io_uring_sqe mkdirat_sqe(int dirfd, const std::string &path, mode_t mode)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_MKDIRAT, dirfd);
	sqe.addr = (uintptr_t)path.c_str();
	sqe.len = mode;
	return sqe;
}

io_uring_sqe unlinkat_sqe(int dirfd, const std::string &path, unsigned flags)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_UNLINKAT, dirfd);
	sqe.addr = (uintptr_t)path.c_str();
	sqe.unlink_flags = flags;
	return sqe;
}

io_uring_sqe renameat_sqe(int olddir, const std::string &oldpath, int newdir,
			  const std::string &newpath, unsigned flags)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_RENAMEAT, olddir);
	sqe.addr = (uintptr_t)oldpath.c_str();
	sqe.len = (uint32_t)newdir;
	sqe.addr2 = (uintptr_t)newpath.c_str();
	sqe.rename_flags = flags;
	return sqe;
}

io_uring_sqe shutdown_sqe(int fd, int how)
{
	io_uring_sqe sqe = sqe_of(IORING_OP_SHUTDOWN, fd);
	sqe.len = (uint32_t)how;
	return sqe;
}

const uint64_t CUR = UINT64_MAX;  // io_uring's "the fd's position"

// ---- loopback sockets ----

int listener(uint16_t *port)
{
	int fd = lu_listen_loopback(&lu_posix_ops, 0);
	sockaddr_in a{};
	socklen_t len = sizeof a;
	getsockname(fd, (sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

sockaddr_in loopback(uint16_t port)
{
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	return a;
}

// A connected TCP pair on 127.0.0.1, made with plain blocking syscalls.
void tcp_pair(int *client, int *server)
{
	uint16_t port;
	int l = listener(&port);
	sockaddr_in a = loopback(port);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(connect(*client, (sockaddr *)&a, sizeof a), 0);
	*server = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
	ASSERT_GE(*server, 0);
	close(l);
}

// ---- a scenario on one engine ----

enum kind : uint32_t { PLAIN, FD };  // FD: res >= 0 is a new fd, logged as "fd"

struct Scene {
	lu_slots *t = nullptr;
	lu_slots_engine engine = LU_SLOTS_RING;
	std::string log;

	int submit(io_uring_sqe sqe, uint64_t ud, uint32_t k = PLAIN, void *owner = nullptr)
	{
		int slot = lu_slots_prepare(t, ud, k, k == FD ? LU_SLOT_FD_RESULT : 0);
		if (slot < 0)
			return slot;
		lu_slots_owners(t, slot)[0] = owner;
		return lu_slots_submit(t, slot, &sqe);
	}

	// A relative timeout whose timespec lives in the slot, as lean_ring.cpp's.
	int timeout(uint64_t ns, uint64_t ud, void *owner = nullptr)
	{
		int slot = lu_slots_prepare(t, ud, PLAIN, 0);
		if (slot < 0)
			return slot;
		lu_slot_scratch *s = lu_slots_scratch(t, slot);
		s->ts.tv_sec = (int64_t)(ns / 1000000000u);
		s->ts.tv_nsec = (long long)(ns % 1000000000u);
		lu_slots_owners(t, slot)[0] = owner;
		io_uring_sqe sqe = sqe_of(IORING_OP_TIMEOUT, -1);
		sqe.addr = (uintptr_t)&s->ts;
		sqe.len = 1;
		return lu_slots_submit(t, slot, &sqe);
	}

	int connect_to(int fd, uint16_t port, uint64_t ud)
	{
		int slot = lu_slots_prepare(t, ud, PLAIN, 0);
		if (slot < 0)
			return slot;
		lu_slot_scratch *s = lu_slots_scratch(t, slot);
		s->sin = loopback(port);
		io_uring_sqe sqe = sqe_of(IORING_OP_CONNECT, fd);
		sqe.addr = (uintptr_t)&s->sin;
		sqe.off = sizeof s->sin;
		return lu_slots_submit(t, slot, &sqe);
	}

	// A connect to (family, bytes, port) whose sockaddr lives in the slot, as connectTo's.
	int connect_addr(int fd, unsigned family, const std::vector<uint8_t> &bytes, uint16_t port,
			 uint64_t ud)
	{
		lu_sockaddr a;
		int len = lu_sockaddr_make(&a, family, bytes.data(), bytes.size(), port);
		if (len < 0)
			return len;
		int slot = lu_slots_prepare(t, ud, PLAIN, 0);
		if (slot < 0)
			return slot;
		lu_slot_scratch *s = lu_slots_scratch(t, slot);
		memcpy(s, &a, (size_t)len);
		io_uring_sqe sqe = sqe_of(IORING_OP_CONNECT, fd);
		sqe.addr = (uintptr_t)s;
		sqe.off = (uint64_t)len;
		return lu_slots_submit(t, slot, &sqe);
	}

	// Submit one operation and log its completion: for steps whose order matters (the
	// kernel runs mkdirat, unlinkat and renameat on io-wq, concurrently within a batch).
	void step(io_uring_sqe sqe, uint64_t ud)
	{
		ASSERT_EQ(submit(sqe, ud), 0);
		record(wait_all());
	}

	static void collect(void *ctx, const lu_slot_cqe *c)
	{
		static_cast<std::vector<lu_slot_cqe> *>(ctx)->push_back(*c);
	}

	// What is ready now, without blocking.
	std::vector<lu_slot_cqe> poll()
	{
		std::vector<lu_slot_cqe> got;
		EXPECT_GE(lu_slots_wait(t, false, collect, &got), 0);
		return got;
	}

	// At least one completion (blocking), and whatever else is ready.
	std::vector<lu_slot_cqe> wait_some()
	{
		std::vector<lu_slot_cqe> got;
		EXPECT_GT(lu_slots_wait(t, true, collect, &got), 0);
		return got;
	}

	// Everything in flight.
	std::vector<lu_slot_cqe> wait_all()
	{
		std::vector<lu_slot_cqe> got;
		while (lu_slots_inflight(t) > 0) {
			int n = lu_slots_wait(t, true, collect, &got);
			EXPECT_GT(n, 0);
			if (n <= 0)
				break;
		}
		return got;
	}

	// Log completions: sorted by user_data unless their order is what is being compared.
	std::vector<lu_slot_cqe> record(std::vector<lu_slot_cqe> cs, bool in_order = false)
	{
		if (!in_order)
			std::sort(cs.begin(), cs.end(), [](const lu_slot_cqe &a, const lu_slot_cqe &b) {
				return a.user_data < b.user_data;
			});
		for (const lu_slot_cqe &c : cs) {
			char line[96];
			if (c.kind == FD && c.res >= 0)
				snprintf(line, sizeof line, "ud=%llu fd flags=%u\n",
					 (unsigned long long)c.user_data, c.flags);
			else
				snprintf(line, sizeof line, "ud=%llu res=%d flags=%u\n",
					 (unsigned long long)c.user_data, c.res, c.flags);
			log += line;
		}
		return cs;
	}

	void note(const std::string &s) { log += s + "\n"; }
};

// The result of the completion with user_data `ud` among `cs` (INT32_MIN if none).
int32_t res_of(const std::vector<lu_slot_cqe> &cs, uint64_t ud)
{
	for (const lu_slot_cqe &c : cs)
		if (c.user_data == ud)
			return c.res;
	return INT32_MIN;
}

std::string run_on(lu_slots_engine engine, const std::function<void(Scene &)> &body)
{
	Scene r;
	Watchdog dog(engine == LU_SLOTS_RING ? "ring scenario" : "emulated scenario");
	std::thread th([&] {
		int err = 0;
		r.engine = engine;
		r.t = lu_slots_get(count_release, engine, &err);
		ASSERT_NE(r.t, nullptr) << err;
		ASSERT_EQ(lu_slots_engine_of(r.t), engine);
		body(r);
		EXPECT_EQ(lu_slots_inflight(r.t), 0u) << "the scenario left operations in flight";
		EXPECT_EQ(lu_slots_stale(r.t), 0u);
	});
	th.join();
	return r.log;
}

// The scenario on both engines; their logs must be equal.  Returns the emulation's.
std::string differential(const std::function<void(Scene &)> &body)
{
	std::string ring = run_on(LU_SLOTS_RING, body);
	std::string emu = run_on(LU_SLOTS_EMULATED, body);
	EXPECT_EQ(ring, emu) << "ring:\n" << ring << "emulated:\n" << emu;
	return emu;
}

// ---- the tests ----

TEST(Emu, Nop)
{
	std::string log = differential([](Scene &r) {
		for (uint64_t ud = 1; ud <= 3; ud++)
			ASSERT_EQ(r.submit(sqe_of(IORING_OP_NOP, 0), ud), 0);
		r.note("inflight " + std::to_string(lu_slots_inflight(r.t)));
		r.record(r.wait_all());
	});
	EXPECT_EQ(log, "inflight 3\nud=1 res=0 flags=0\nud=2 res=0 flags=0\nud=3 res=0 flags=0\n");
}

TEST(Emu, FileReadWriteAtOffsetAndAtPosition)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string path = dir.path("f");
		int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0);
		char buf[128] = {};
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, fd, "hello world", 11, 0), 1), 0);
		r.record(r.wait_all());
		r.note("pos " + std::to_string(lseek(fd, 0, SEEK_CUR)));
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, fd, "HEL", 3, CUR), 2), 0);
		r.record(r.wait_all());
		r.note("pos " + std::to_string(lseek(fd, 0, SEEK_CUR)));
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, 5, 6), 3), 0);
		r.record(r.wait_all());
		r.note(std::string("read '") + buf + "'");
		memset(buf, 0, sizeof buf);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, 4, CUR), 4), 0);
		r.record(r.wait_all());
		r.note(std::string("read '") + buf + "' pos " + std::to_string(lseek(fd, 0, SEEK_CUR)));
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, sizeof buf, 11), 5), 0);
		r.record(r.wait_all());
		lseek(fd, 0, SEEK_END);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, sizeof buf, CUR), 6), 0);
		r.record(r.wait_all());
		// A negative offset other than -1 is refused by both.
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, 4, (uint64_t)-2), 7), 0);
		// A directory is no file to read.
		int d = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, d, buf, 4, CUR), 8), 0);
		r.record(r.wait_all());
		close(d);
		close(fd);
		r.note("file '" + file_at(AT_FDCWD, path.c_str()) + "'");
	});
	EXPECT_EQ(log,
		  "ud=1 res=11 flags=0\npos 0\n"
		  "ud=2 res=3 flags=0\npos 3\n"
		  "ud=3 res=5 flags=0\nread 'world'\n"
		  "ud=4 res=4 flags=0\nread 'lo w' pos 7\n"
		  "ud=5 res=0 flags=0\n"
		  "ud=6 res=0 flags=0\n"
		  "ud=7 res=-22 flags=0\nud=8 res=-21 flags=0\n"
		  "file 'HELlo world'\n");
}

TEST(Emu, OpenatStatxClose)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string missing = dir.path("missing"), fresh = dir.path("new"), d = dir.path("");
		const int create = O_WRONLY | O_CREAT | O_CLOEXEC;
		ASSERT_EQ(r.submit(openat_sqe(AT_FDCWD, missing.c_str(), O_RDONLY | O_CLOEXEC, 0), 1, FD),
			  0);
		ASSERT_EQ(r.submit(openat_sqe(AT_FDCWD, fresh.c_str(), create, 0640), 2, FD), 0);
		ASSERT_EQ(r.submit(openat_sqe(AT_FDCWD, d.c_str(), O_WRONLY | O_CLOEXEC, 0), 3, FD), 0);
		std::vector<lu_slot_cqe> got = r.record(r.wait_all());
		int fd = res_of(got, 2);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, "abc", 3), 3);
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_CLOSE, fd), 4), 0);
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_CLOSE, 987654), 5), 0);
		r.record(r.wait_all());
		bool closed = fcntl(fd, F_GETFD) < 0 && errno == EBADF;
		r.note(std::string("closed ") + (closed ? "yes" : "no"));
		struct statx stx {};
		ASSERT_EQ(r.submit(statx_sqe(fresh.c_str(), &stx), 6), 0);
		ASSERT_EQ(r.submit(statx_sqe(missing.c_str(), &stx), 7), 0);
		r.record(r.wait_all());
		char line[64];
		snprintf(line, sizeof line, "size %llu mode %o", (unsigned long long)stx.stx_size,
			 stx.stx_mode & 07777);
		r.note(line);
	});
	EXPECT_EQ(log,
		  "ud=1 res=-2 flags=0\nud=2 fd flags=0\nud=3 res=-21 flags=0\n"
		  "ud=4 res=0 flags=0\nud=5 res=-9 flags=0\nclosed yes\n"
		  "ud=6 res=0 flags=0\nud=7 res=-2 flags=0\nsize 3 mode 640\n");
}

TEST(Emu, FsyncAndFdatasyncAndTheirErrors)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string path = dir.path("f");
		int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, "data", 4), 4);
		int ro = open(path.c_str(), O_RDONLY | O_CLOEXEC);
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		ASSERT_EQ(r.submit(fsync_sqe(fd, 0), 1), 0);
		ASSERT_EQ(r.submit(fsync_sqe(fd, IORING_FSYNC_DATASYNC), 2), 0);
		ASSERT_EQ(r.submit(fsync_sqe(ro, 0), 3), 0);        // read-only: syncs all the same
		ASSERT_EQ(r.submit(fsync_sqe(987654, 0), 4), 0);    // not open
		ASSERT_EQ(r.submit(fsync_sqe(p[1], 0), 5), 0);      // a pipe has no fsync
		ASSERT_EQ(r.submit(fsync_sqe(fd, 0x80), 6), 0);     // an unknown flag
		r.record(r.wait_all());
		for (int f : { fd, ro, p[0], p[1] })
			close(f);
		r.note("file '" + file_at(AT_FDCWD, path.c_str()) + "'");
	});
	EXPECT_EQ(log,
		  "ud=1 res=0 flags=0\nud=2 res=0 flags=0\nud=3 res=0 flags=0\n"
		  "ud=4 res=-9 flags=0\nud=5 res=-22 flags=0\nud=6 res=-22 flags=0\n"
		  "file 'data'\n");
}

// mkdirat, unlinkat (with and without AT_REMOVEDIR) and renameat, and the errors a program
// meets: EEXIST, ENOENT, ENOTEMPTY, EISDIR, ENOTDIR, and renameat2's RENAME_NOREPLACE.
TEST(Emu, MkdiratUnlinkatRenameat)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string d = dir.path("d"), f = dir.path("d/f"), g = dir.path("g");
		std::string missing = dir.path("no/such"), top = dir.path("");
		std::string sub = "sub", a = "a", b = "b";
		mode_t old_mask = umask(022);
		r.step(mkdirat_sqe(AT_FDCWD, d, 0750), 1);
		r.step(mkdirat_sqe(AT_FDCWD, d, 0750), 2);          // EEXIST
		r.step(mkdirat_sqe(AT_FDCWD, missing, 0700), 3);    // ENOENT
		struct stat st {};
		stat(d.c_str(), &st);
		char line[64];
		snprintf(line, sizeof line, "dir %s mode %o", S_ISDIR(st.st_mode) ? "yes" : "no",
			 st.st_mode & 07777);
		r.note(line);
		// Relative to a directory fd; 0777 is masked by the umask.
		int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_GE(dfd, 0);
		r.step(mkdirat_sqe(dfd, sub, 0777), 4);
		stat((d + "/sub").c_str(), &st);
		snprintf(line, sizeof line, "sub mode %o", st.st_mode & 07777);
		r.note(line);
		int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_EQ(write(fd, "F", 1), 1);
		close(fd);
		r.step(unlinkat_sqe(AT_FDCWD, d, AT_REMOVEDIR), 5);  // ENOTEMPTY
		r.step(unlinkat_sqe(AT_FDCWD, d, 0), 6);             // EISDIR
		r.step(unlinkat_sqe(AT_FDCWD, f, AT_REMOVEDIR), 7);  // ENOTDIR
		r.step(unlinkat_sqe(AT_FDCWD, f, 0x1), 8);           // an unknown flag: EINVAL
		// Renames: a file across directory fds, onto a missing name, over an existing one.
		fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		close(fd);
		int tfd = open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = openat(tfd, a.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_EQ(write(fd, "A", 1), 1);
		close(fd);
		r.step(renameat_sqe(tfd, a, dfd, b, 0), 9);
		r.note("a '" + file_at(tfd, a.c_str()) + "' d/b '" + file_at(dfd, b.c_str()) + "'");
		r.step(renameat_sqe(tfd, a, dfd, b, 0), 10);         // ENOENT
		r.step(renameat_sqe(dfd, b, AT_FDCWD, f, RENAME_NOREPLACE), 11);  // EEXIST
		r.step(renameat_sqe(dfd, b, AT_FDCWD, f, 0), 12);   // replaces d/f
		r.note("d/f '" + file_at(AT_FDCWD, f.c_str()) + "' d/b '" + file_at(dfd, b.c_str()) +
		       "'");
		ASSERT_EQ(mkdir(g.c_str(), 0700), 0);
		r.step(renameat_sqe(AT_FDCWD, g, AT_FDCWD, d, 0), 13);  // onto a non-empty dir
		r.step(renameat_sqe(AT_FDCWD, g, AT_FDCWD, f, 0), 14);  // a dir onto a file: ENOTDIR
		// Emptied, the directory goes with AT_REMOVEDIR; then it is gone.
		r.step(unlinkat_sqe(AT_FDCWD, f, 0), 15);
		r.step(unlinkat_sqe(dfd, sub, AT_REMOVEDIR), 16);
		r.step(unlinkat_sqe(AT_FDCWD, d, AT_REMOVEDIR), 17);
		r.step(unlinkat_sqe(AT_FDCWD, d, AT_REMOVEDIR), 18);  // ENOENT
		r.step(unlinkat_sqe(AT_FDCWD, f, 0), 19);             // ENOENT
		r.step(unlinkat_sqe(987654, sub, 0), 20);             // a bad dirfd: EBADF
		r.note(std::string("d ") + (access(d.c_str(), F_OK) == 0 ? "exists" : "gone"));
		close(dfd);
		close(tfd);
		umask(old_mask);
	});
	EXPECT_EQ(log,
		  "ud=1 res=0 flags=0\nud=2 res=-17 flags=0\nud=3 res=-2 flags=0\n"
		  "dir yes mode 750\n"
		  "ud=4 res=0 flags=0\nsub mode 755\n"
		  "ud=5 res=-39 flags=0\nud=6 res=-21 flags=0\nud=7 res=-20 flags=0\n"
		  "ud=8 res=-22 flags=0\n"
		  "ud=9 res=0 flags=0\na '<missing>' d/b 'A'\n"
		  "ud=10 res=-2 flags=0\nud=11 res=-17 flags=0\nud=12 res=0 flags=0\n"
		  "d/f 'A' d/b '<missing>'\n"
		  "ud=13 res=-39 flags=0\nud=14 res=-20 flags=0\n"
		  "ud=15 res=0 flags=0\nud=16 res=0 flags=0\nud=17 res=0 flags=0\n"
		  "ud=18 res=-2 flags=0\nud=19 res=-2 flags=0\nud=20 res=-9 flags=0\n"
		  "d gone\n");
}

TEST(Emu, PipeReadWaitsForAWriteFromAnotherThreadOrALaterSubmission)
{
	std::string log = differential([](Scene &r) {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		char buf[16] = {};
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, p[0], buf, sizeof buf, CUR), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		std::thread writer([&] {
			std::this_thread::sleep_for(std::chrono::milliseconds(30));
			EXPECT_EQ(write(p[1], "late", 4), 4);
		});
		r.record(r.wait_all());
		writer.join();
		r.note(std::string("read '") + buf + "'");
		memset(buf, 0, sizeof buf);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, p[0], buf, sizeof buf, 5), 2), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, p[1], "xyz", 3, CUR), 3), 0);
		r.record(r.wait_all());
		r.note(std::string("read '") + buf + "'");
		// A pipe's O_NONBLOCK flag is the syscall's business: the ring waits all the same.
		int q[2];
		ASSERT_EQ(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, q[0], buf, sizeof buf, CUR), 4), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(write(q[1], "n", 1), 1);
		r.record(r.wait_all());
		// A write larger than the pipe is short, not blocking.
		std::string big(100000, 'b');
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, q[1], big.data(), big.size(), CUR), 5), 0);
		r.record(r.wait_all());
		// End of file once the writer is gone.
		close(p[1]);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, p[0], buf, sizeof buf, CUR), 6), 0);
		r.record(r.wait_all());
		close(p[0]);
		close(q[0]);
		close(q[1]);
	});
	EXPECT_EQ(log,
		  "ready 0\nud=1 res=4 flags=0\nread 'late'\n"
		  "ready 0\nud=2 res=3 flags=0\nud=3 res=3 flags=0\nread 'xyz'\n"
		  "ready 0\nud=4 res=1 flags=0\n"
		  "ud=5 res=65536 flags=0\n"
		  "ud=6 res=0 flags=0\n");
}

// Raise the soft fd limit for tests that need many pipes; false if the hard limit forbids it.
bool fd_limit_at_least(rlim_t n)
{
	rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
		return false;
	if (lim.rlim_cur >= n)
		return true;
	if (lim.rlim_max < n)
		return false;
	lim.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

TEST(Emu, AThousandPendingPipeReads)
{
	if (!fd_limit_at_least(4096))
		GTEST_SKIP() << "needs 4096 descriptors";
	std::string log = differential([](Scene &r) {
		const int n = 1000;
		std::vector<int> rd(n), wr(n);
		std::vector<char> bufs(n * 8, 0);
		for (int i = 0; i < n; i++) {
			int p[2];
			ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
			rd[i] = p[0];
			wr[i] = p[1];
			ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, rd[i], &bufs[i * 8], 8, CUR), i), 0);
		}
		r.note("ready " + std::to_string(r.poll().size()) + " inflight " +
		       std::to_string(lu_slots_inflight(r.t)));
		for (int i = n - 1; i >= 0; i--) {
			char c = (char)('A' + i % 26);
			ASSERT_EQ(write(wr[i], &c, 1), 1);
		}
		std::vector<lu_slot_cqe> got = r.wait_all();
		int ok = 0;
		for (const lu_slot_cqe &c : got) {
			int i = (int)c.user_data;
			ok += c.res == 1 && bufs[i * 8] == (char)('A' + i % 26) && bufs[i * 8 + 1] == 0;
		}
		r.note("completed " + std::to_string(got.size()) + " right " + std::to_string(ok));
		for (int i = 0; i < n; i++) {
			close(rd[i]);
			close(wr[i]);
		}
	});
	EXPECT_EQ(log, "ready 0 inflight 1000\ncompleted 1000 right 1000\n");
}

TEST(Emu, FifoReadWaitsForAWrite)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string path = dir.path("fifo");
		ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
		int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);  // both ends: the open never blocks
		ASSERT_GE(fd, 0);
		char buf[16] = {};
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, sizeof buf, CUR), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, fd, "fifo", 4, CUR), 2), 0);
		r.record(r.wait_all());
		r.note(std::string("read '") + buf + "'");
		close(fd);
	});
	EXPECT_EQ(log, "ready 0\nud=1 res=4 flags=0\nud=2 res=4 flags=0\nread 'fifo'\n");
}

TEST(Emu, AcceptWaitsForAConnect)
{
	std::string log = differential([](Scene &r) {
		uint16_t port;
		int l = listener(&port);
		ASSERT_EQ(r.submit(accept_sqe(l), 1, FD), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_EQ(r.connect_to(c, port, 2), 0);
		std::vector<lu_slot_cqe> got = r.record(r.wait_all());
		int s = res_of(got, 1);
		ASSERT_GE(s, 0);
		ASSERT_EQ(write(c, "hi", 2), 2);
		char buf[4] = {};
		r.note(std::string("accepted reads '") + (read(s, buf, 2) == 2 ? buf : "") + "'");
		// Two connections queued: the first accept says another one waits.
		int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int c3 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_in a = loopback(port);
		ASSERT_EQ(connect(c2, (sockaddr *)&a, sizeof a), 0);
		ASSERT_EQ(connect(c3, (sockaddr *)&a, sizeof a), 0);
		ASSERT_EQ(r.submit(accept_sqe(l), 3, FD), 0);
		got = r.record(r.wait_all());
		close(res_of(got, 3));
		ASSERT_EQ(r.submit(accept_sqe(l), 4, FD), 0);
		got = r.record(r.wait_all());
		close(res_of(got, 4));
		// Not a listening socket, not a socket: at once, as the kernel.
		ASSERT_EQ(r.submit(accept_sqe(c), 5, FD), 0);
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		ASSERT_EQ(r.submit(accept_sqe(p[0]), 6, FD), 0);
		r.record(r.wait_all());
		for (int fd : { s, c, c2, c3, l, p[0], p[1] })
			close(fd);
	});
	EXPECT_EQ(log,
		  "ready 0\nud=1 fd flags=0\nud=2 res=0 flags=0\naccepted reads 'hi'\n"
		  "ud=3 fd flags=4\nud=4 fd flags=0\n"
		  "ud=5 res=-22 flags=0\nud=6 res=-88 flags=0\n");
}

TEST(Emu, ConnectToAClosedPortIsRefused)
{
	std::string log = differential([](Scene &r) {
		uint16_t port;
		close(listener(&port));
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_EQ(r.connect_to(c, port, 1), 0);
		r.record(r.wait_all());
		int fl = fcntl(c, F_GETFL);
		r.note(std::string("nonblocking ") + (fl & O_NONBLOCK ? "yes" : "no"));
		// An O_NONBLOCK socket's connect waits all the same (no -EINPROGRESS), keeping its flag.
		uint16_t open_port;
		int l = listener(&open_port);
		int nb = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		ASSERT_EQ(r.connect_to(nb, open_port, 5), 0);
		r.record(r.wait_all());
		r.note(std::string("nonblocking ") + (fcntl(nb, F_GETFL) & O_NONBLOCK ? "yes" : "no"));
		close(nb);
		close(l);
		// Connected already.
		int a, b;
		tcp_pair(&a, &b);
		ASSERT_EQ(r.connect_to(a, port, 2), 0);
		// Not a socket, and not open.
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		ASSERT_EQ(r.connect_to(p[0], port, 3), 0);
		ASSERT_EQ(r.connect_to(987654, port, 4), 0);
		r.record(r.wait_all());
		for (int fd : { c, a, b, p[0], p[1] })
			close(fd);
	});
	EXPECT_EQ(log,
		  "ud=1 res=-111 flags=0\nnonblocking no\nud=5 res=0 flags=0\nnonblocking yes\n"
		  "ud=2 res=-106 flags=0\nud=3 res=-88 flags=0\nud=4 res=-9 flags=0\n");
}


const std::vector<uint8_t> v4_loopback = { 127, 0, 0, 1 };
const std::vector<uint8_t> v6_loopback = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

// A TCP listener on (family, bytes):0 made with the socket helpers (ops.h); its port in *port.
int listener_on(unsigned family, const std::vector<uint8_t> &bytes, uint16_t *port)
{
	lu_sockaddr a;
	int len = lu_sockaddr_make(&a, family, bytes.data(), bytes.size(), 0);
	int fd = lu_tcp_socket(family);
	EXPECT_GE(fd, 0);
	EXPECT_EQ(lu_bind(fd, &a.sa, (socklen_t)len), 0);
	EXPECT_EQ(lu_listen(fd, 16), 0);
	lu_sockaddr got;
	len = lu_sock_name(fd, false, &got);
	uint8_t fam, b[16];
	EXPECT_EQ(lu_sockaddr_split(&got, (socklen_t)len, &fam, b, port), (int)bytes.size());
	return fd;
}

// connectTo's addresses: IPv4 and IPv6 loopback, accepted and refused.
void connect_by_family(unsigned family, const std::vector<uint8_t> &bytes)
{
	std::string log = differential([&](Scene &r) {
		uint16_t port, closed;
		int l = listener_on(family, bytes, &port);
		close(listener_on(family, bytes, &closed));
		int c = lu_tcp_socket(family), c2 = lu_tcp_socket(family);
		ASSERT_EQ(r.connect_addr(c, family, bytes, port, 1), 0);
		ASSERT_EQ(r.connect_addr(c2, family, bytes, closed, 2), 0);
		r.record(r.wait_all());
		pollfd pl = { l, POLLIN, 0 };
		ASSERT_EQ(poll(&pl, 1, 5000), 1) << "no connection to accept";
		int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
		ASSERT_GE(s, 0);
		lu_sockaddr peer, mine;
		uint8_t fam = 0, b1[16], b2[16];
		uint16_t p1 = 0, p2 = 0;
		int n1 = lu_sockaddr_split(&peer, (socklen_t)lu_sock_name(s, true, &peer), &fam, b1, &p1);
		int n2 = lu_sockaddr_split(&mine, (socklen_t)lu_sock_name(c, false, &mine), &fam, b2, &p2);
		bool same = n1 == n2 && n1 == (int)bytes.size() && memcmp(b1, b2, (size_t)n1) == 0 &&
			    memcmp(b1, bytes.data(), bytes.size()) == 0 && p1 == p2;
		r.note(std::string("family ") + std::to_string(fam) + " peer is client " +
		       (same ? "yes" : "no"));
		ASSERT_EQ(write(c, "hi", 2), 2);
		char buf[4] = {};
		r.note(std::string("accepted reads '") + (read(s, buf, 2) == 2 ? buf : "") + "'");
		// The other family's address on this socket: the kernel's verdict, for both.
		int c3 = lu_tcp_socket(family);
		ASSERT_EQ(r.connect_addr(c3, family == 4 ? 6 : 4, family == 4 ? v6_loopback : v4_loopback,
					 port, 3), 0);
		r.record(r.wait_all());
		for (int fd : { l, c, c2, c3, s })
			close(fd);
	});
	EXPECT_EQ(log, family == 4 ?
		  "ud=1 res=0 flags=0\nud=2 res=-111 flags=0\nfamily 4 peer is client yes\n"
		  "accepted reads 'hi'\nud=3 res=-97 flags=0\n" :
		  "ud=1 res=0 flags=0\nud=2 res=-111 flags=0\nfamily 6 peer is client yes\n"
		  "accepted reads 'hi'\nud=3 res=-22 flags=0\n");
}

TEST(Emu, ConnectToIpv4LoopbackFromAddressBytes)
{
	connect_by_family(4, v4_loopback);
}

TEST(Emu, ConnectToIpv6Loopback)
{
	if (!has_ipv6_loopback())
		GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
	connect_by_family(6, v6_loopback);
}

TEST(Emu, RecvSendShutdownOnLoopback)
{
	std::string log = differential([](Scene &r) {
		int c, s;
		tcp_pair(&c, &s);
		char buf[32] = {};
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf, sizeof buf, 0), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_SEND, c, "ping", 4, 0), 2), 0);
		r.record(r.wait_all());
		r.note(std::string("recv '") + buf + "'");
		memset(buf, 0, sizeof buf);
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_SEND, c, "0123456789", 10, 0), 3), 0);
		r.record(r.wait_all());
		// A recv that leaves data behind says so (IORING_CQE_F_SOCK_NONEMPTY).
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf, 4, 0), 4), 0);
		r.record(r.wait_all());
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf + 4, 16, 0), 5), 0);
		r.record(r.wait_all());
		r.note(std::string("recv '") + buf + "'");
		// The caller's own MSG_DONTWAIT gives -EAGAIN under io_uring too.
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf, 4, MSG_DONTWAIT), 6), 0);
		r.record(r.wait_all());
		// MSG_WAITALL waits for the whole length, across several arrivals.
		memset(buf, 0, sizeof buf);
		ASSERT_EQ(write(c, "abc", 3), 3);
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf, 6, MSG_WAITALL), 7), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(write(c, "def", 3), 3);
		r.record(r.wait_all());
		r.note(std::string("recv '") + buf + "'");
		// Shutting the write side down is end of file for the peer.
		ASSERT_EQ(r.submit(shutdown_sqe(c, SHUT_WR), 8), 0);
		r.record(r.wait_all());
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s, buf, 4, 0), 9), 0);
		r.record(r.wait_all());
		// A pending recv ends with 0 when the peer closes.
		int c2, s2;
		tcp_pair(&c2, &s2);
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, s2, buf, 4, 0), 10), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		close(c2);
		r.record(r.wait_all());
		// Sockets only, and connected ones.  (The kernel runs SHUTDOWN on an io-wq worker,
		// after the SQEs behind it, so the recv goes first: it would see the shutdown.)
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_SEND, p[1], "x", 1, 0), 11), 0);
		int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, u, buf, 4, 0), 12), 0);
		r.record(r.wait_all());
		ASSERT_EQ(r.submit(shutdown_sqe(u, SHUT_RDWR), 13), 0);
		ASSERT_EQ(r.submit(shutdown_sqe(s, 7), 14), 0);
		r.record(r.wait_all());
		for (int fd : { c, s, s2, p[0], p[1], u })
			close(fd);
	});
	EXPECT_EQ(log,
		  "ready 0\nud=1 res=4 flags=0\nud=2 res=4 flags=0\nrecv 'ping'\n"
		  "ud=3 res=10 flags=0\nud=4 res=4 flags=4\nud=5 res=6 flags=0\nrecv '0123456789'\n"
		  "ud=6 res=-11 flags=0\n"
		  "ready 0\nud=7 res=6 flags=0\nrecv 'abcdef'\n"
		  "ud=8 res=0 flags=0\nud=9 res=0 flags=4\n"
		  "ready 0\nud=10 res=0 flags=4\n"
		  "ud=11 res=-88 flags=0\nud=12 res=-107 flags=0\nud=13 res=-107 flags=0\n"
		  "ud=14 res=-22 flags=0\n");
}

TEST(Emu, TimeoutsExpireWithEtimeInDeadlineOrder)
{
	std::string log = differential([](Scene &r) {
		int64_t t0 = now_ns();
		ASSERT_EQ(r.timeout(60000000, 1), 0);
		ASSERT_EQ(r.timeout(20000000, 2), 0);
		ASSERT_EQ(r.timeout(0, 3), 0);
		std::map<uint64_t, int64_t> at;
		while (lu_slots_inflight(r.t) > 0)
			for (const lu_slot_cqe &c : r.record(r.wait_some(), true))
				at[c.user_data] = now_ns() - t0;
		r.note(std::string("20ms ") + (at[2] >= 20000000 ? "kept" : "early") +
		       ", 60ms " + (at[1] >= 60000000 ? "kept" : "early"));
		// Expired together (nobody reaped meanwhile): still in deadline order.
		ASSERT_EQ(r.timeout(30000000, 5), 0);
		ASSERT_EQ(r.timeout(20000000, 6), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		std::this_thread::sleep_for(std::chrono::milliseconds(60));
		r.record(r.wait_all(), true);
		// A timespec the kernel refuses.
		int slot = lu_slots_prepare(r.t, 4, PLAIN, 0);
		lu_slots_scratch(r.t, slot)->ts = { 0, -1 };
		io_uring_sqe sqe = sqe_of(IORING_OP_TIMEOUT, -1);
		sqe.addr = (uintptr_t)&lu_slots_scratch(r.t, slot)->ts;
		sqe.len = 1;
		ASSERT_EQ(lu_slots_submit(r.t, slot, &sqe), 0);
		r.record(r.wait_all());
	});
	EXPECT_EQ(log,
		  "ud=3 res=-62 flags=0\nud=2 res=-62 flags=0\nud=1 res=-62 flags=0\n"
		  "20ms kept, 60ms kept\nready 0\nud=6 res=-62 flags=0\nud=5 res=-62 flags=0\n"
		  "ud=4 res=-22 flags=0\n");
}

TEST(Emu, CancelEndsAWaitingOperationOrSaysENOENT)
{
	std::string log = differential([](Scene &r) {
		int sv[2];
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		char buf[8];
		ASSERT_EQ(r.submit(msg_sqe(IORING_OP_RECV, sv[0], buf, sizeof buf, 0), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(lu_slots_cancel(r.t, 1, 2), 0);
		r.record(r.wait_all(), true);
		// Not in flight any more.
		ASSERT_EQ(lu_slots_cancel(r.t, 1, 3), 0);
		r.record(r.wait_all(), true);
		// Scene already: a completed operation is not in flight.
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_NOP, 0), 4), 0);
		r.record(r.wait_all());
		ASSERT_EQ(lu_slots_cancel(r.t, 4, 5), 0);
		r.record(r.wait_all(), true);
		// A timer, cancelled in the same batch that armed it.
		ASSERT_EQ(r.timeout(10000000000ull, 6), 0);
		ASSERT_EQ(lu_slots_cancel(r.t, 6, 7), 0);
		r.record(r.wait_all(), true);
		// The cancelled recv took nothing.
		ASSERT_EQ(write(sv[1], "x", 1), 1);
		r.note("left " + std::to_string(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT)));
		close(sv[0]);
		close(sv[1]);
	});
	EXPECT_EQ(log,
		  "ready 0\nud=2 res=0 flags=0\nud=1 res=-125 flags=0\n"
		  "ud=3 res=-2 flags=0\n"
		  "ud=4 res=0 flags=0\nud=5 res=-2 flags=0\n"
		  "ud=7 res=0 flags=0\nud=6 res=-125 flags=0\n"
		  "left 1\n");
}

TEST(Emu, UnknownOpcodeIsEinval)
{
	std::string log = differential([](Scene &r) {
		io_uring_sqe sqe = sqe_of(IORING_OP_LAST + 10, 0);
		ASSERT_EQ(r.submit(sqe, 1), 0);
		r.record(r.wait_all());
	});
	EXPECT_EQ(log, "ud=1 res=-22 flags=0\n");
}

TEST(Emu, SpliceBetweenPipesAndFiles)
{
	std::string log = differential([](Scene &r) {
		TempDir dir;
		std::string path = dir.path("f");
		int f = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ASSERT_EQ(write(f, "0123456789", 10), 10);
		int a[2], b[2];
		ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
		ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
		// Pipe to pipe, waiting for its input.
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, b[1], CUR, 10, 0), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(write(a[1], "splice", 6), 6);
		r.record(r.wait_all());
		char buf[16] = {};
		r.note("moved '" + std::string(buf, read(b[0], buf, sizeof buf)) + "'");
		// File at an offset to a pipe, and pipe to a file at an offset.
		ASSERT_EQ(r.submit(splice_sqe(f, 2, b[1], CUR, 5, 0), 2), 0);
		r.record(r.wait_all());
		r.note("moved '" + std::string(buf, read(b[0], buf, sizeof buf)) + "'");
		ASSERT_EQ(write(a[1], "tail", 4), 4);
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, f, 10, 4, 0), 3), 0);
		r.record(r.wait_all());
		r.note("file '" + file_at(AT_FDCWD, path.c_str()) + "'");
		// From a TCP socket, waiting for data (splice(2) would block on it, even NONBLOCK).
		int c, s;
		tcp_pair(&c, &s);
		ASSERT_EQ(r.submit(splice_sqe(s, CUR, b[1], CUR, 16, 0), 11), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		ASSERT_EQ(write(c, "tcp", 3), 3);
		r.record(r.wait_all());
		r.note("moved '" + std::string(buf, read(b[0], buf, sizeof buf)) + "'");
		close(c);
		close(s);
		// The kernel's answers to bad splices, in its order of checks.
		ASSERT_EQ(r.submit(splice_sqe(987654, CUR, 987653, CUR, 0, 0), 4), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, b[1], CUR, 0, 0), 5), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[0], 3, b[1], CUR, 4, 0), 6), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[1], CUR, b[0], 5, 1, 0), 7), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, a[1], CUR, 1, 0), 8), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, b[1], CUR, 1, 0x100), 9), 0);
		ASSERT_EQ(r.submit(splice_sqe(a[0], CUR, b[1], CUR, 4, SPLICE_F_NONBLOCK), 10), 0);
		r.record(r.wait_all());
		for (int fd : { f, a[0], a[1], b[0], b[1] })
			close(fd);
	});
	EXPECT_EQ(log,
		  "ready 0\nud=1 res=6 flags=0\nmoved 'splice'\n"
		  "ud=2 res=5 flags=0\nmoved '23456'\n"
		  "ud=3 res=4 flags=0\nfile '0123456789tail'\n"
		  "ready 0\nud=11 res=3 flags=0\nmoved 'tcp'\n"
		  "ud=4 res=-9 flags=0\nud=5 res=0 flags=0\nud=6 res=-29 flags=0\n"
		  "ud=7 res=-9 flags=0\nud=8 res=-22 flags=0\nud=9 res=-22 flags=0\n"
		  "ud=10 res=-11 flags=0\n");
}

TEST(Emu, NonBlockingWaitDeliversOnlyWhatIsReady)
{
	std::string log = differential([](Scene &r) {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		char buf[8];
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, p[0], buf, sizeof buf, CUR), 1), 0);
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_NOP, 0), 2), 0);
		r.record(r.poll());
		r.note("then " + std::to_string(r.poll().size()));
		ASSERT_EQ(write(p[1], "x", 1), 1);
		r.record(r.wait_all());
		close(p[0]);
		close(p[1]);
	});
	EXPECT_EQ(log, "ud=2 res=0 flags=0\nthen 0\nud=1 res=1 flags=0\n");
}

// Thread exit with operations waiting, on either engine: every owner released once, every fd
// that an operation opened closed, and nothing left reading the pipe.
void teardown_scenario(lu_slots_engine engine)
{
	released.clear();
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	uint16_t port;
	int l = listener(&port);
	int before = count_fds();
	const int n = 200;
	std::vector<std::vector<char>> bufs(n, std::vector<char>(32));
	static char timer_owner, accept_owner, open_owner;
	int q[2];
	ASSERT_EQ(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0);
	Watchdog dog("teardown");
	std::thread th([&] {
		int err = 0;
		lu_slots *t = lu_slots_get(count_release, engine, &err);
		ASSERT_NE(t, nullptr);
		Scene r;
		r.t = t;
		for (int i = 0; i < n; i++) {
			int slot = lu_slots_prepare(t, i, 0, 0);
			lu_slots_owners(t, slot)[0] = bufs[i].data();
			lu_slots_owners(t, slot)[1] = &bufs[i][1];
			io_uring_sqe sqe = rw_sqe(IORING_OP_READ, p[0], bufs[i].data(), 32, CUR);
			ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
		}
		ASSERT_EQ(r.timeout(30000000000ull, n, &timer_owner), 0);
		ASSERT_EQ(r.submit(accept_sqe(l), n + 1, FD, &accept_owner), 0);
		EXPECT_EQ(r.poll().size(), 0u);
		// Submitted, never reaped: they run (one opens an fd) before the teardown's cancels.
		ASSERT_EQ(r.submit(openat_sqe(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0), n + 2, FD,
				   &open_owner), 0);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_WRITE, q[1], "w", 1, CUR), n + 3), 0);
		EXPECT_EQ(lu_slots_inflight(t), (unsigned)n + 4);
	});
	th.join();
	EXPECT_EQ(released.size(), 2u * n + 3);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(released[bufs[i].data()], 1) << i;
		EXPECT_EQ(released[&bufs[i][1]], 1) << i;
	}
	EXPECT_EQ(released[&timer_owner], 1);
	EXPECT_EQ(released[&accept_owner], 1);
	EXPECT_EQ(released[&open_owner], 1);
	EXPECT_EQ(count_fds(), before + 2);
	char w = 0;
	EXPECT_EQ(read(q[0], &w, 1), 1);
	close(q[0]);
	close(q[1]);
	ASSERT_EQ(write(p[1], "z", 1), 1);
	char c = 0;
	EXPECT_EQ(read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
	close(l);
}

TEST(Emu, ThreadExitReleasesEveryOwnerOnceAndClosesOpenedFds)
{
	{
		SCOPED_TRACE("ring");
		teardown_scenario(LU_SLOTS_RING);
	}
	{
		SCOPED_TRACE("emulated");
		teardown_scenario(LU_SLOTS_EMULATED);
	}
}

TEST(Emu, ExplicitReleaseThenANewTable)
{
	Watchdog dog("release");
	std::thread th([] {
		released.clear();
		int err = 0;
		lu_slots *t = lu_slots_get(count_release, LU_SLOTS_EMULATED, &err);
		ASSERT_NE(t, nullptr);
		uint64_t serial = lu_slots_serial(t);
		Scene r;
		r.t = t;
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_NOP, 0), 1, PLAIN, (void *)1), 0);
		ASSERT_EQ(r.timeout(10000000000ull, 2, (void *)2), 0);
		lu_slots_release();
		EXPECT_EQ(lu_slots_current(), nullptr);
		EXPECT_EQ(released[(void *)1], 1);
		EXPECT_EQ(released[(void *)2], 1);
		r.t = lu_slots_get(count_release, LU_SLOTS_EMULATED, &err);
		ASSERT_NE(r.t, nullptr);
		EXPECT_NE(lu_slots_serial(r.t), serial);
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_NOP, 0), 3), 0);
		EXPECT_EQ(r.wait_all().size(), 1u);
	});
	th.join();
}

// The engine is the first caller's; an emulated table never costs the thread a ring.
TEST(Emu, EngineIsChosenOnceAndEmulationMakesNoRing)
{
	Watchdog dog("engines");
	std::thread emulated([] {
		int before = ring_mappings();
		int err = 0;
		lu_slots *t = lu_slots_get(count_release, LU_SLOTS_EMULATED, &err);
		ASSERT_NE(t, nullptr);
		EXPECT_EQ(lu_slots_get(count_release, LU_SLOTS_RING, &err), t);
		EXPECT_EQ(lu_slots_engine_of(t), LU_SLOTS_EMULATED);
		Scene r;
		r.t = t;
		char buf[8];
		int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, fd, buf, sizeof buf, CUR), 1), 0);
		ASSERT_EQ(r.timeout(1000000, 2), 0);
		ASSERT_EQ(lu_slots_cancel(t, 99, 3), 0);
		EXPECT_EQ(r.wait_all().size(), 3u);
		lu_slots_release();
		close(fd);
		EXPECT_EQ(ring_mappings(), before);
	});
	emulated.join();
	std::thread ring([] {
		int before = ring_mappings();
		int err = 0;
		lu_slots *t = lu_slots_get(count_release, LU_SLOTS_RING, &err);
		ASSERT_NE(t, nullptr);
		EXPECT_EQ(lu_slots_get(count_release, LU_SLOTS_EMULATED, &err), t);
		EXPECT_EQ(lu_slots_engine_of(t), LU_SLOTS_RING);
		EXPECT_GT(ring_mappings(), before) << "the check above would see a ring";
	});
	ring.join();
}

// 10,000 operations waiting at once, on one pipe, under 1,024 descriptors: poll(2) refuses more
// entries than RLIMIT_NOFILE, so the emulation must poll each fd once.  Then 10,000 timers.
TEST(Emu, TenThousandWaitingOperationsUnderTheDefaultFdLimit)
{
	std::string out = in_child([] {
		rlimit lim = { 1024, 1024 };
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
			return std::string("setrlimit failed");
		alarm(60);  // a hang kills the child, which fails the test
		std::string result;
		std::thread th([&] {
			int err = 0;
			Scene r;
			r.t = lu_slots_get(nullptr, LU_SLOTS_EMULATED, &err);
			if (!r.t) {
				result = "no table";
				return;
			}
			const int n = 10000;
			int p[2];
			if (pipe2(p, O_CLOEXEC) != 0) {
				result = "no pipe";
				return;
			}
			std::vector<char> bufs(n);
			for (int i = 0; i < n; i++)
				r.submit(rw_sqe(IORING_OP_READ, p[0], &bufs[i], 1, CUR), i);
			size_t early = r.poll().size();
			std::string data(n, 'r');
			size_t wrote = 0;
			std::vector<lu_slot_cqe> got;
			while (lu_slots_inflight(r.t) > 0) {
				if (wrote < data.size()) {
					size_t k = std::min<size_t>(4096, n - wrote);
					ssize_t w = write(p[1], data.data() + wrote, k);
					wrote += w > 0 ? (size_t)w : 0;
				}
				std::vector<lu_slot_cqe> some;
				int k = lu_slots_wait(r.t, true, Scene::collect, &some);
				if (k <= 0) {
					result = "wait failed: " + std::to_string(k);
					return;
				}
				got.insert(got.end(), some.begin(), some.end());
			}
			int ones = 0;
			for (const lu_slot_cqe &c : got)
				ones += c.res == 1;
			int rs = (int)std::count(bufs.begin(), bufs.end(), 'r');
			for (int i = 0; i < n; i++)
				r.timeout(0, i);
			got = r.wait_all();
			bool in_order = got.size() == (size_t)n;
			for (size_t i = 0; in_order && i < got.size(); i++)
				in_order = got[i].user_data == i && got[i].res == -ETIME;
			result = "early " + std::to_string(early) + " reads " + std::to_string(got.size()) +
				 " ones " + std::to_string(ones) + " bytes " + std::to_string(rs) +
				 " timers in order " + (in_order ? "yes" : "no");
			close(p[0]);
			close(p[1]);
		});
		th.join();
		return result;
	});
	EXPECT_EQ(out, "early 0 reads 10000 ones 10000 bytes 10000 timers in order yes");
}

// A documented difference (emu.h): a waiting operation holds the fd number, not the file.
TEST(Emu, AWaitingReadWhoseFdIsClosedEndsWithEbadf)
{
	std::string log = run_on(LU_SLOTS_EMULATED, [](Scene &r) {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		char buf[8];
		ASSERT_EQ(r.submit(rw_sqe(IORING_OP_READ, p[0], buf, sizeof buf, CUR), 1), 0);
		r.note("ready " + std::to_string(r.poll().size()));
		close(p[0]);
		r.record(r.wait_all());
		close(p[1]);
	});
	EXPECT_EQ(log, "ready 0\nud=1 res=-9 flags=0\n");
}

// What the emulation refuses rather than imitates (emu.h): -EINVAL, never a hang.
TEST(Emu, UnemulatedFeaturesAreEinval)
{
	std::string log = run_on(LU_SLOTS_EMULATED, [](Scene &r) {
		ASSERT_EQ(r.submit(sqe_of(IORING_OP_FALLOCATE, 0), 1), 0);
		io_uring_sqe linked = sqe_of(IORING_OP_NOP, 0);
		linked.flags = IOSQE_IO_LINK;
		ASSERT_EQ(r.submit(linked, 2), 0);
		io_uring_sqe cancel_all = sqe_of(IORING_OP_ASYNC_CANCEL, 0);
		cancel_all.cancel_flags = IORING_ASYNC_CANCEL_ANY;
		ASSERT_EQ(r.submit(cancel_all, 3), 0);
		r.record(r.wait_all());
	});
	EXPECT_EQ(log, "ud=1 res=-22 flags=0\nud=2 res=-22 flags=0\nud=3 res=-22 flags=0\n");
}

// The emulation alone: a callback may submit, and reap again.
TEST(Emu, CallbackMaySubmitAndReap)
{
	Watchdog dog("callback");
	struct ctx {
		lu_emu *e;
		std::vector<uint64_t> seen;
	} c;
	c.e = lu_emu_new();
	ASSERT_NE(c.e, nullptr);
	io_uring_sqe nop = sqe_of(IORING_OP_NOP, 0);
	nop.user_data = 1;
	ASSERT_EQ(lu_emu_submit(c.e, &nop), 0);
	nop.user_data = 2;
	ASSERT_EQ(lu_emu_submit(c.e, &nop), 0);
	auto fn = [](void *p, const io_uring_cqe *cqe) {
		ctx *x = static_cast<ctx *>(p);
		x->seen.push_back(cqe->user_data);
		if (cqe->user_data < 100) {
			io_uring_sqe next = sqe_of(IORING_OP_NOP, 0);
			next.user_data = cqe->user_data + 100;
			EXPECT_EQ(lu_emu_submit(x->e, &next), 0);
		}
		if (cqe->user_data == 1) {
			// Delivers 2 (still pending here) and 101, then this reap goes on with nothing.
			int n = lu_emu_reap(x->e, false, [](void *q, const io_uring_cqe *d) {
				static_cast<ctx *>(q)->seen.push_back(d->user_data + 1000);
			}, x);
			EXPECT_EQ(n, 2);
		}
	};
	EXPECT_EQ(lu_emu_reap(c.e, true, fn, &c), 1);
	EXPECT_EQ(lu_emu_reap(c.e, true, fn, &c), 0);
	EXPECT_EQ(c.seen, (std::vector<uint64_t>{ 1, 1002, 1101 }));
	EXPECT_EQ(lu_emu_inflight(c.e), 0u);
	lu_emu_free(c.e);
}

} // namespace
