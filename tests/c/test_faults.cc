// Faults from outside the runtime (issue 11), against the real kernel: signal storms, a full
// filesystem, a peer that resets, a fork and exec, io_uring denied part-way through a process,
// no descriptor left at start-up, a flood of completions into a tiny CQ.
// Each must end in a clear -errno or a correct fallback, with every byte accounted for.
// What needs a process of its own (a mount namespace, a seccomp filter, a backend decided
// afresh) runs in a forked or re-executed child.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "copy.h"
#include "driver.h"
#include "handle.h"
#include "slots.h"
#include "ops.h"
#include "test_util.h"

namespace {

using LuOps = struct lu_ops;

std::string ops_name(const testing::TestParamInfo<const LuOps *> &info)
{
	return info.param->name;
}

class Faults : public testing::TestWithParam<const LuOps *> {
protected:
	void SetUp() override
	{
		int err = 0;
		if (GetParam() == &lu_uring_ops && !lu_driver_get(&err))
			GTEST_SKIP() << "no io_uring ring on this machine: " << strerror(-err);
	}
	const LuOps &ops() const { return *GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Backends, Faults, testing::Values(&lu_uring_ops, &lu_posix_ops),
			 ops_name);

// ---- EINTR storms ----

std::atomic<long> g_storm_signals{ 0 };

/*
 * SIGUSR2 every 50 us at the calling thread, without SA_RESTART, for as long as it lives:
 * every wait of that thread, in io_uring_enter or in a syscall, is interrupted again and again.
 * The handler (process-wide) must be installed by the test first.
 */
class Storm {
public:
	Storm()
	{
		sigevent ev{};
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = SIGUSR2;
		ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		ok_ = timer_create(CLOCK_MONOTONIC, &ev, &timer_) == 0;
		itimerspec its{};
		its.it_value.tv_nsec = its.it_interval.tv_nsec = 50 * 1000;
		ok_ = ok_ && timer_settime(timer_, 0, &its, nullptr) == 0;
	}
	// Before the thread exits: a timer aimed at a dead thread would hit the process.
	~Storm()
	{
		if (ok_)
			timer_delete(timer_);
	}
	bool ok() const { return ok_; }

private:
	timer_t timer_{};
	bool ok_ = false;
};

/*
 * Three pipes, each with a reader and a writer thread under their own storm: the readers block
 * on empty pipes, the writers on full ones (1 MiB through a 64 KiB pipe), then each thread
 * sleeps 20 x 1 ms.  Every byte arrives, in order, no call returns -EINTR, and no sleep is cut
 * short: ops.h promises that both backends retry what the signal interrupted.
 */
TEST_P(Faults, EintrStormOnBlockedReadsWritesAndSleeps)
{
	struct sigaction sa = {}, old;
	sa.sa_handler = [](int) { g_storm_signals.fetch_add(1, std::memory_order_relaxed); };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
	g_storm_signals = 0;

	const int pairs = 3;
	const size_t total = 1024 * 1024, chunk = 16 * 1024;
	const uint64_t nap = 1000 * 1000;
	std::vector<std::string> sent, got(pairs);
	std::atomic<int> failures{ 0 };
	std::vector<std::string> why(2 * pairs);
	std::vector<std::thread> ts;
	std::vector<std::array<int, 2>> pipes(pairs);
	for (int i = 0; i < pairs; i++) {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		pipes[i] = { p[0], p[1] };
		sent.push_back(random_bytes(total, 100 + i));
	}
	auto naps = [&](int who) {
		for (int k = 0; k < 20; k++) {
			int64_t t0 = now_ns();
			int r = ops().sleep_ns(nap);
			if (r != 0 || now_ns() - t0 < (int64_t)nap) {
				why[who] += "sleep " + std::to_string(r) + " took " +
					    std::to_string(now_ns() - t0) + "; ";
				failures++;
			}
		}
	};
	for (int i = 0; i < pairs; i++) {
		ts.emplace_back([&, i] {
			Storm storm;
			failures += !storm.ok();
			std::string &buf = got[i];
			buf.resize(total);
			size_t have = 0;
			while (have < total) {
				ssize_t n = ops().read(pipes[i][0], &buf[have], total - have);
				if (n <= 0) {
					why[2 * i] += "read " + std::to_string(n) + " at " +
						      std::to_string(have) + "; ";
					failures++;
					// The rest by plain syscalls, so the writer cannot hang.
					int fd = pipes[i][0];
					while (have < total &&
					       ((n = read(fd, &buf[have], total - have)) > 0 ||
						(n < 0 && errno == EINTR)))
						have += n > 0 ? (size_t)n : 0;
					break;
				}
				have += (size_t)n;
			}
			naps(2 * i);
		});
		ts.emplace_back([&, i] {
			Storm storm;
			failures += !storm.ok();
			for (size_t off = 0; off < total; off += chunk) {
				ssize_t n =
					lu_write_all(&ops(), pipes[i][1], &sent[i][off], chunk, -1);
				if (n != (ssize_t)chunk) {
					why[2 * i + 1] += "write " + std::to_string(n) + " at " +
							  std::to_string(off) + "; ";
					failures++;
					// Unblock the reader; its bytes then show the damage.
					close(pipes[i][1]);
					pipes[i][1] = -1;
					break;
				}
			}
			naps(2 * i + 1);
		});
	}
	for (auto &t : ts)
		t.join();
	sigaction(SIGUSR2, &old, nullptr);
	for (int i = 0; i < 2 * pairs; i++)
		EXPECT_EQ(why[i], "") << "thread " << i;
	EXPECT_EQ(failures.load(), 0);
	for (int i = 0; i < pairs; i++) {
		EXPECT_TRUE(got[i] == sent[i]) << "pipe " << i << " lost or reordered bytes";
		close(pipes[i][0]);
		if (pipes[i][1] >= 0)
			close(pipes[i][1]);
	}
	// A sanitizer defers handlers to its own safe points, so only ask for a real storm.
	EXPECT_GE(g_storm_signals.load(), 100) << "the storm must really have interrupted waits";
}

// ---- ENOSPC in the middle of a write ----

/*
 * Runs `body` in a forked child, in a mount namespace of its own where `dir` is a 256 KiB
 * tmpfs: the string it returns, or "skip: why" when mounting is not permitted here.
 */
std::string on_small_tmpfs(const std::string &dir, const std::function<std::string()> &body)
{
	return in_child([&] {
		if (unshare(CLONE_NEWNS) != 0)
			return std::string("skip: unshare(CLONE_NEWNS): ") + strerror(errno);
		if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
		    mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") != 0)
			return std::string("skip: mount tmpfs: ") + strerror(errno);
		return body();
	});
}

// How many of `file`'s bytes are those of `data` at the same offset (holes read as zeros,
// which random data matches only by chance, 1 in 256).
size_t bytes_in_place(const std::string &file, const std::string &data)
{
	size_t n = 0;
	for (size_t i = 0; i < file.size() && i < data.size(); i++)
		n += file[i] == data[i];
	return n;
}

/*
 * A buffered handle writing 1 MiB in 1000-byte pieces onto a 256 KiB filesystem: the write
 * that cannot reach the fd fails with -ENOSPC, the file holds exactly the first bytes written,
 * and only the one buffer that failed (at most 8 KiB) is missing from what was accepted.
 */
TEST(FaultsNoSpace, BufferedHandleWriteIsENOSPCAndKeepsWhatWasWritten)
{
	TempDir dir;
	const std::string data = random_bytes(1024 * 1024, 11);
	std::string out = on_small_tmpfs(dir.path(""), [&] {
		std::string path = dir.path("f");
		lu_handle *h;
		int r = lu_handle_open(path.c_str(), "w", &h);
		if (r != 0)
			return "open " + std::to_string(r);
		size_t accepted = 0, piece;
		while ((piece = std::min<size_t>(1000, data.size() - accepted)) > 0 &&
		       (r = lu_handle_write(h, &data[accepted], piece)) == 0)
			accepted += piece;
		int closed = lu_handle_close(h);
		std::string file = file_at(AT_FDCWD, path.c_str());
		bool prefix = data.compare(0, file.size(), file) == 0;
		bool full = file.size() > 256 * 1024 - 8192 && file.size() <= 256 * 1024;
		return "write " + std::to_string(r) + " close " + std::to_string(closed) +
		       " prefix " + std::to_string(prefix) + " full " + std::to_string(full) +
		       " lost " + std::to_string(accepted - file.size() <= 8192);
	});
	if (out.rfind("skip: ", 0) == 0)
		GTEST_SKIP() << out;
	EXPECT_EQ(out, "write -28 close 0 prefix 1 full 1 lost 1");
}

/*
 * A 1 MiB copy onto a 256 KiB filesystem, with 8 reads of 16 KiB in flight under io_uring:
 * -ENOSPC for the destination once every operation has drained, and every byte the engine
 * counts as written is in the file at its offset.
 */
TEST_P(Faults, CopyOntoAFilesystemThatFillsUpIsENOSPC)
{
	TempDir src;
	const std::string data = random_bytes(1024 * 1024, 12);
	{
		int fd = open(src.path("src").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_EQ(write(fd, data.data(), data.size()), (ssize_t)data.size());
		close(fd);
	}
	TempDir dir;
	std::string out = on_small_tmpfs(dir.path(""), [&] {
		lu_copy_opts o = { &ops(), 8, 16 * 1024 };
		lu_copy_result res{};
		int r = lu_copy_file(src.path("src").c_str(), dir.path("dst").c_str(), &o, &res);
		std::string file = file_at(AT_FDCWD, dir.path("dst").c_str());
		int err = 0;
		lu_driver *d = lu_driver_get(&err);
		return "copy " + std::to_string(r) + " dst " +
		       std::to_string(res.failed == LU_COPY_DST) + " some " +
		       std::to_string(res.bytes > 128 * 1024 && res.bytes <= 256 * 1024) +
		       " in place " + std::to_string(bytes_in_place(file, data) >= res.bytes) +
		       " inflight " + std::to_string(d ? lu_inflight(d) : 0);
	});
	if (out.rfind("skip: ", 0) == 0)
		GTEST_SKIP() << out;
	EXPECT_EQ(out, "copy -28 dst 1 some 1 in place 1 inflight 0");
}

// ---- a peer that resets the connection ----

// A connected loopback pair: the client through `ops`, the server's end by plain syscalls.
bool tcp_pair(const LuOps &ops, int *cli, int *srv)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	bool ok = bind(l, (sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
		  getsockname(l, (sockaddr *)&a, &len) == 0;
	*cli = ok ? ops.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
	ok = ok && *cli >= 0 && ops.connect(*cli, (sockaddr *)&a, sizeof a) == 0;
	*srv = ok ? accept4(l, nullptr, nullptr, SOCK_CLOEXEC) : -1;
	close(l);
	return ok && *srv >= 0;
}

// SO_LINGER 0, then close: the peer gets an RST instead of a FIN.
void reset(int fd)
{
	linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

std::string errname(ssize_t r)
{
	return r == -ECONNRESET ? "ECONNRESET" : r == -EPIPE ? "EPIPE" : std::to_string(r);
}

/*
 * The peer resets while a recv waits and while a send is blocked on full buffers (the peer
 * reads nothing).  The recv ends with -ECONNRESET, the send loop with -ECONNRESET or -EPIPE,
 * later sends with -EPIPE and a recv with 0, as the syscalls say.  In a child with SIGPIPE at
 * its default, so that a send without MSG_NOSIGNAL's effect would kill it.
 */
TEST_P(Faults, PeerResetMidRecvAndMidSend)
{
	const LuOps *o = GetParam();
	std::string out = in_child([o] {
		signal(SIGPIPE, SIG_DFL);
		std::string s;
		int cli, srv;
		if (!tcp_pair(*o, &cli, &srv))
			return std::string("no loopback pair");
		ssize_t got = 0;
		std::thread t([&] {
			char buf[64];
			got = o->recv(cli, buf, sizeof buf, 0);
		});
		usleep(20 * 1000);
		reset(srv);
		t.join();
		s += "recv " + errname(got) + " send " +
		     errname(o->send(cli, "x", 1, MSG_NOSIGNAL));
		o->close(cli);

		if (!tcp_pair(*o, &cli, &srv))
			return s + " no second pair";
		std::atomic<size_t> sent{ 0 };
		ssize_t last = 0;
		std::thread sender([&] {
			std::string chunk(256 * 1024, 'z');
			while ((last = o->send(cli, chunk.data(), chunk.size(), MSG_NOSIGNAL)) > 0)
				sent += (size_t)last;
		});
		// Until the buffers are full and the sender waits (a single send may wait at once).
		int64_t deadline = now_ns() + 1000 * 1000 * 1000;
		for (size_t before = 0;
		     (before != sent.load() || before == 0) && now_ns() < deadline;) {
			before = sent.load();
			usleep(30 * 1000);
		}
		reset(srv);
		sender.join();
		s += " | send loop " +
		     std::string(last == -ECONNRESET || last == -EPIPE ? "reset" : errname(last)) +
		     " then " + errname(o->send(cli, "x", 1, MSG_NOSIGNAL));
		char c;
		s += " recv " + errname(o->recv(cli, &c, 1, 0));
		o->close(cli);
		return s;
	});
	EXPECT_EQ(out, "recv ECONNRESET send EPIPE | send loop reset then EPIPE recv 0");
}

// ---- fork and exec with operations in flight ----

/*
 * While a thread waits in a ring read on one pipe and four batch reads wait on four others,
 * the process forks a child that execs /bin/true.  The child exits cleanly, and then every
 * parent operation still completes exactly once with exactly the bytes written for it.
 */
TEST(FaultsFork, ExecWhileReadsArePending)
{
	int err = 0;
	lu_driver *d = lu_driver_get(&err);
	if (!d)
		GTEST_SKIP() << "no io_uring ring on this machine: " << strerror(-err);
	const int batch = 4;
	int p[batch + 1][2];
	for (auto &fds : p)
		ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
	char bufs[batch + 1][32] = {};
	ssize_t sync_got = -1;
	std::atomic<bool> reading{ false };
	std::thread reader([&] {
		reading = true;
		sync_got = lu_uring_ops.read(p[batch][0], bufs[batch], sizeof bufs[batch]);
	});
	for (int i = 0; i < batch; i++) {
		io_uring_sqe sqe{};
		sqe.opcode = IORING_OP_READ;
		sqe.fd = p[i][0];
		sqe.addr = (uintptr_t)bufs[i];
		sqe.len = sizeof bufs[i];
		sqe.off = (uint64_t)-1;
		sqe.user_data = 10 + i;
		ASSERT_EQ(lu_submit(d, &sqe), 0);
	}
	io_uring_sqe nop{};
	nop.opcode = IORING_OP_NOP;
	ASSERT_EQ(lu_run(&nop), 0);  // the batch is in the kernel now
	while (!reading)
		usleep(1000);
	usleep(20 * 1000);

	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)nullptr);
		_exit(127);
	}
	ASSERT_GT(pid, 0);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

	for (int i = 0; i <= batch; i++) {
		std::string msg = "for reader " + std::to_string(i);
		ASSERT_EQ(write(p[i][1], msg.data(), msg.size()), (ssize_t)msg.size());
	}
	reader.join();
	EXPECT_EQ(sync_got, (ssize_t)strlen("for reader 4"));
	EXPECT_EQ(std::string(bufs[batch]), "for reader 4");
	std::vector<int> seen(batch, 0);
	for (int i = 0; i < batch; i++) {
		io_uring_cqe cqe;
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		ASSERT_GE(cqe.user_data, 10u);
		ASSERT_LT(cqe.user_data, 10u + batch);
		int k = (int)cqe.user_data - 10;
		seen[k]++;
		std::string want = "for reader " + std::to_string(k);
		EXPECT_EQ(cqe.res, (int)want.size());
		EXPECT_EQ(std::string(bufs[k]), want);
	}
	EXPECT_EQ(seen, std::vector<int>(batch, 1));
	EXPECT_EQ(lu_inflight(d), 0u);
	for (auto &fds : p) {
		close(fds[0]);
		close(fds[1]);
	}
}

// ---- io_uring denied part-way through the process's life ----

struct write_job {
	int fd;
	std::string out;
};

void *write_two(void *p)
{
	write_job *j = static_cast<write_job *>(p);
	const struct lu_ops *ops = lu_ops();
	ssize_t w = ops->write(j->fd, "ab", 2);
	j->out = std::string(ops->name) + " " + std::to_string(w) + " unavailable " +
		 std::to_string(lu_ops_unavailable());
	return nullptr;
}

std::string write_on_new_thread(int fd)
{
	write_job j = { fd, "" };
	pthread_t t;
	if (pthread_create(&t, nullptr, write_two, &j) != 0)
		return "pthread_create failed";
	pthread_join(t, nullptr);
	return j.out;
}

/*
 * The main thread decides the backend and does IO on its ring; then io_uring_setup is denied
 * (EPERM), as a sandbox entered late would.  The main thread's ring keeps working; a new
 * thread falls back to POSIX under auto (said once on stderr) and fails with -EPERM under
 * uring.  Run in a re-executed copy of this binary, so that the backend is decided afresh;
 * its stderr comes first, its stdout is written at the end.
 */
std::string seccomp_late_observations()
{
	if (lu_backend_init() != 0 || !lu_backend_is_uring())
		return "no uring backend";
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return "pipe failed";
	const struct lu_ops *ops = lu_ops();
	std::string out = std::string("main ") + ops->name + " " +
			  std::to_string(ops->write(p[1], "m", 1)) + "\n";
	if (!deny_syscall(__NR_io_uring_setup, EPERM))
		return "seccomp failed";
	ops = lu_ops();
	out += std::string("main ") + ops->name + " " + std::to_string(ops->write(p[1], "m", 1)) +
	       "\n";
	out += "thread " + write_on_new_thread(p[1]) + "\n";
	out += "thread " + write_on_new_thread(p[1]) + "\n";
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	out += "pipe holds " + read_to_eof(p[0]) + "\n";
	fflush(stderr);
	return out;
}

/*
 * No descriptor left when the process first does IO, so the backend's probe meets EMFILE:
 * auto decides posix and does the IO; uring's lu_backend_init fails with -EMFILE and why.
 * The decision stays made when descriptors are free again: a new thread uses posix too.
 */
std::string emfile_main_observations()
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return "pipe failed";
	std::vector<int> held = take_every_fd();
	int ret = lu_backend_init();
	const struct lu_ops *ops = lu_ops();
	std::string out = "init " + std::to_string(ret) + " " + lu_backend()->reason + "\n" +
			  "main " + ops->name + " " + std::to_string(ops->write(p[1], "m", 1)) +
			  " unavailable " + std::to_string(lu_ops_unavailable()) + "\n";
	for (int fd : held)
		close(fd);
	out += "thread " + write_on_new_thread(p[1]) + "\n";
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	out += "pipe holds " + read_to_eof(p[0]) + "\n";
	fflush(stderr);
	return out;
}

const bool faults_child = [] {
	const char *mode = getenv("LU_FAULTS_CHILD");
	if (!mode)
		return false;
	dup2(1, 2);
	std::string out = std::string(mode) == "seccomp" ? seccomp_late_observations()
							  : emfile_main_observations();
	ssize_t unused = write(1, out.data(), out.size());
	(void)unused;
	_exit(0);
}();

std::string run_faults_child(const char *mode, const char *backend)
{
	return in_child([mode, backend] {
		setenv("LEAN_IO_BACKEND", backend, 1);
		setenv("LU_FAULTS_CHILD", mode, 1);
		execl("/proc/self/exe", "lu_tests", (char *)nullptr);
		return std::string("exec failed");
	});
}

TEST(FaultsSeccomp, LateDenialNewThreadFallsBackUnderAuto)
{
	EXPECT_EQ(run_faults_child("seccomp", "auto"),
		  "lean: a thread cannot set up its io_uring (EPERM (Operation not permitted)); "
		  "its IO uses posix (LEAN_IO_BACKEND=auto)\n"
		  "main uring 1\n"
		  "main uring 1\n"
		  "thread posix 2 unavailable 0\n"
		  "thread posix 2 unavailable 0\n"
		  "pipe holds mmabab\n");
}

TEST(FaultsSeccomp, LateDenialNewThreadFailsClearlyUnderUring)
{
	EXPECT_EQ(run_faults_child("seccomp", "uring"),
		  "main uring 1\n"
		  "main uring 1\n"
		  "thread uring -1 unavailable -1\n"
		  "thread uring -1 unavailable -1\n"
		  "pipe holds mm\n");
}

TEST(FaultsEmfile, MainThreadWithoutDescriptorsUnderAuto)
{
	EXPECT_EQ(run_faults_child("emfile", "auto"),
		  "init 0 auto: io_uring_setup failed: EMFILE (Too many open files); using posix\n"
		  "main posix 1 unavailable 0\n"
		  "thread posix 2 unavailable 0\n"
		  "pipe holds mab\n");
}

// The forced backend's failure is lu_backend_init's (the runtime stops there, with this
// reason); ops.h then gives POSIX, so nothing is lost meanwhile.
TEST(FaultsEmfile, MainThreadWithoutDescriptorsUnderUring)
{
	EXPECT_EQ(run_faults_child("emfile", "uring"),
		  "init -24 uring: requested by LEAN_IO_BACKEND, but io_uring_setup failed: EMFILE "
		  "(Too many open files)\n"
		  "main posix 1 unavailable 0\n"
		  "thread posix 2 unavailable 0\n"
		  "pipe holds mab\n");
}

// ---- a flood of completions into a tiny CQ ----

std::atomic<int> g_flood_releases{ 0 };

/*
 * 3,000 timeouts of 1 to 500 us through the slot table on a 2-entry ring (CQ of 4), every
 * tenth one cancelled, all submitted before any is reaped: they expire while the rest are
 * still being submitted, so the CQ overflows from timers and cancels, not just NOPs.  Every
 * operation is delivered exactly once with its own owner and user_data, each cancel agrees
 * with its target's result, and the table releases nothing (everything was delivered).
 */
TEST(FaultsFlood, ThousandsOfShortTimeoutsAndCancelsOnATinyRing)
{
	int err = 0;
	if (!lu_driver_get(&err))
		GTEST_SKIP() << "no io_uring ring on this machine: " << strerror(-err);
	g_flood_releases = 0;
	lu_driver_set_entries(2);
	std::thread([] {
		int err = 0;
		lu_slots *t = lu_slots_get([](void *) { g_flood_releases++; }, LU_SLOTS_RING, &err);
		ASSERT_NE(t, nullptr) << err;
		const int n = 3000;
		const uint64_t cancel_base = 1000000;
		for (int i = 0; i < n; i++) {
			int slot = lu_slots_prepare(t, i, 0, 0);
			ASSERT_GE(slot, 0);
			lu_slots_owners(t, slot)[0] = (void *)(uintptr_t)(i + 1);
			__kernel_timespec *ts = &lu_slots_scratch(t, slot)->ts;
			*ts = { 0, 1000 * (1 + i % 500) };
			io_uring_sqe sqe{};
			sqe.opcode = IORING_OP_TIMEOUT;
			sqe.addr = (uintptr_t)ts;
			sqe.len = 1;
			ASSERT_EQ(lu_slots_submit(t, slot, &sqe), 0);
			if (i % 10 == 0)
				ASSERT_EQ(lu_slots_cancel(t, i, cancel_base + i), 0);
		}
		std::vector<int> seen(n), res(n), cancel_res(n, 1);
		std::vector<int> cancels_seen(n);
		int bad = 0;
		auto collect = [](void *ctx, const lu_slot_cqe *c) {
			static_cast<std::vector<lu_slot_cqe> *>(ctx)->push_back(*c);
		};
		std::vector<lu_slot_cqe> got;
		while (lu_slots_inflight(t) > 0)
			ASSERT_GE(lu_slots_wait(t, true, collect, &got), 0);
		for (const lu_slot_cqe &c : got) {
			if (c.user_data >= cancel_base && c.user_data < cancel_base + n) {
				cancels_seen[c.user_data - cancel_base]++;
				cancel_res[c.user_data - cancel_base] = c.res;
			} else if (c.user_data < (uint64_t)n) {
				seen[c.user_data]++;
				res[c.user_data] = c.res;
				bad += c.owner[0] != (void *)(uintptr_t)(c.user_data + 1);
			} else {
				bad++;
			}
		}
		EXPECT_EQ(bad, 0);
		EXPECT_EQ(got.size(), (size_t)(n + n / 10));
		for (int i = 0; i < n; i++) {
			ASSERT_EQ(seen[i], 1) << i;
			if (i % 10 != 0) {
				ASSERT_EQ(res[i], -ETIME) << i;
				continue;
			}
			ASSERT_EQ(cancels_seen[i], 1) << i;
			// The cancel found the timer (0) and ended it, or came too late (-ENOENT,
			// -EALREADY) and the timer expired.
			if (cancel_res[i] == 0)
				ASSERT_EQ(res[i], -ECANCELED) << i;
			else
				ASSERT_TRUE((cancel_res[i] == -ENOENT ||
					     cancel_res[i] == -EALREADY) && res[i] == -ETIME)
					<< i << ": cancel " << cancel_res[i] << ", timeout "
					<< res[i];
		}
		EXPECT_EQ(lu_slots_stale(t), 0u);
		lu_slots_release();
	}).join();
	lu_driver_set_entries(LU_DRIVER_DEFAULT_ENTRIES);
	EXPECT_EQ(g_flood_releases.load(), 0);
}

}  // namespace
