// Backend selection (backend.c) in real child processes: seccomp filters make io_uring fail the
// way locked-down systems do, RLIMIT_MEMLOCK is lowered for real, and the process-wide memo is
// checked in a re-executed copy of this binary with LEAN_IO_BACKEND set.
#include <gtest/gtest.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "backend.h"
#include "driver.h"
#include "test_util.h"

namespace {

// What a decision looked like, as a line that can cross a pipe.
std::string show(int ret, const struct lu_backend &b)
{
	std::ostringstream s;
	s << ret << "|" << (b.kind == LU_BACKEND_URING ? "uring" : "posix") << "|" << b.requested
	  << "|" << b.reason;
	return s.str();
}

std::string decide(const char *value)
{
	struct lu_backend b;
	int ret = lu_backend_decide(value, &b);
	return show(ret, b);
}

TEST(Backend, DecidesEachValue)
{
	// io_uring works on the test machine: that is what every other test relies on.
	EXPECT_EQ(decide(nullptr), "0|uring|auto|auto: io_uring works; using uring");
	EXPECT_EQ(decide(""), "0|uring|auto|auto: io_uring works; using uring");
	EXPECT_EQ(decide("auto"), "0|uring|auto|auto: io_uring works; using uring");
	EXPECT_EQ(decide("uring"), "0|uring|uring|uring: requested by LEAN_IO_BACKEND");
	EXPECT_EQ(decide("posix"), "0|posix|posix|posix: requested by LEAN_IO_BACKEND");
}

TEST(Backend, UnknownValueIsAnError)
{
	EXPECT_EQ(decide("io_uring"),
		  "-22|posix|invalid|LEAN_IO_BACKEND=\"io_uring\" is not one of uring, posix, auto");
	struct lu_backend b;
	EXPECT_EQ(lu_backend_decide("URING", &b), -EINVAL);
	EXPECT_NE(std::string(b.reason).find("\"URING\""), std::string::npos);
	EXPECT_EQ(lu_backend_decide(" posix", &b), -EINVAL);
}

struct Denial {
	int err;
	const char *text;
};

class BackendSetupDenied : public ::testing::TestWithParam<Denial> {};

// io_uring_setup fails as seccomp (EPERM), an old or stripped kernel (ENOSYS) or a memlock
// limit (ENOMEM) makes it fail: auto falls back and says why, uring refuses and says why.
TEST_P(BackendSetupDenied, AutoFallsBackUringFails)
{
	const Denial d = GetParam();
	std::string out = in_child([&] {
		if (!deny_syscall(__NR_io_uring_setup, d.err))
			return std::string("seccomp failed");
		// The child dropped the parent's driver at fork, so this really sets a ring up.
		int err = 0;
		bool no_driver = lu_driver_get(&err) == nullptr;
		return decide("auto") + "\n" + decide("uring") + "\n" +
		       (no_driver ? std::to_string(err) : "driver made");
	});
	std::string setup = std::string("io_uring_setup failed: ") + d.text;
	EXPECT_EQ(out, "0|posix|auto|auto: " + setup + "; using posix\n" +
			       std::to_string(-d.err) + "|posix|uring|uring: requested by " +
			       "LEAN_IO_BACKEND, but " + setup + "\n" + std::to_string(-d.err));
}

INSTANTIATE_TEST_SUITE_P(Errnos, BackendSetupDenied,
			 ::testing::Values(Denial{ EPERM, "EPERM (Operation not permitted)" },
					   Denial{ ENOSYS, "ENOSYS (Function not implemented)" },
					   Denial{ ENOMEM, "ENOMEM (Cannot allocate memory)" }));

// A ring but no probe (as on kernels before 5.6): the required opcodes cannot be confirmed.
TEST(Backend, MissingOpcodesFallBack)
{
	std::string out = in_child([] {
		if (!deny_syscall(__NR_io_uring_register, EINVAL))
			return std::string("seccomp failed");
		return decide("auto") + "\n" + decide("uring");
	});
	EXPECT_EQ(out, "0|posix|auto|auto: io_uring lacks IORING_OP_READ (IORING_REGISTER_PROBE); "
		       "using posix\n" +
			       std::to_string(-EOPNOTSUPP) +
			       "|posix|uring|uring: requested by LEAN_IO_BACKEND, but io_uring "
			       "lacks IORING_OP_READ (IORING_REGISTER_PROBE)");
}

// The guarantees the driver relies on: this kernel gives them, and a kernel missing either one
// is refused with its name (no kernel here lacks them, so the check runs on masked features).
TEST(Backend, RequiredFeatures)
{
	int err = 0;
	struct lu_driver *d = lu_driver_get(&err);
	ASSERT_NE(d, nullptr) << err;
	uint32_t features = lu_driver_features(d);
	char why[128] = "";
	EXPECT_EQ(lu_backend_check_features(features, why, sizeof(why)), 0) << why;
	const std::pair<uint32_t, std::string> required[] = {
		{ IORING_FEAT_NODROP, "IORING_FEAT_NODROP" },
		{ IORING_FEAT_SUBMIT_STABLE, "IORING_FEAT_SUBMIT_STABLE" },
	};
	for (const auto &[bit, name] : required) {
		EXPECT_EQ(lu_backend_check_features(features & ~bit, why, sizeof(why)), -EOPNOTSUPP);
		EXPECT_EQ(std::string(why), "io_uring lacks " + name + " (io_uring_setup's features)");
	}
}

bool kernel_at_least(int major, int minor)
{
	utsname u;
	int ma = 0, mi = 0;
	return uname(&u) == 0 && sscanf(u.release, "%d.%d", &ma, &mi) == 2 &&
	       (ma > major || (ma == major && mi >= minor));
}

// Since 5.12 rings are charged to the memory cgroup, not to RLIMIT_MEMLOCK (kernel commit
// 26bfa89e25f4, "io_uring: place ring SQ/CQ arrays under memcg memory limits"), so a zero
// limit no longer stops io_uring; before that it made io_uring_setup fail with ENOMEM.
TEST(Backend, MemlockLimitZero)
{
	std::string out = in_child([] {
		rlimit zero = { 0, 0 };
		if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0)
			return std::string("setrlimit failed");
		return decide("auto");
	});
	if (kernel_at_least(5, 12))
		EXPECT_EQ(out, "0|uring|auto|auto: io_uring works; using uring");
	else
		EXPECT_EQ(out, "0|posix|auto|auto: io_uring_setup failed: ENOMEM (Cannot allocate "
			       "memory); using posix");
}

// The memory cgroup this process is in, as {directory, limit file, usage file, the file a thread
// joins by}, under cgroup v2 or the v1 memory controller; empty where the machine mounts neither.
// v1 moves one thread through "tasks"; v2 keeps a process's threads together in "cgroup.procs".
struct Memcg {
	std::string dir, limit, usage, join;
};

Memcg own_memcg()
{
	std::ifstream in("/proc/self/cgroup");
	std::string line, v1, v2;
	while (std::getline(in, line)) {
		size_t a = line.find(':'), b = line.find(':', a + 1);
		if (a == std::string::npos || b == std::string::npos)
			continue;
		std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
		if (controllers == "memory")
			v1 = path;
		else if (line.compare(0, 3, "0::") == 0)
			v2 = path;
	}
	for (const char *root : { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" }) {
		std::string dir = root + v2;
		if (access((dir + "/memory.max").c_str(), W_OK) == 0 &&
		    access((dir + "/cgroup.subtree_control").c_str(), R_OK) == 0)
			return { dir, "memory.max", "memory.current", "cgroup.procs" };
	}
	std::string dir = "/sys/fs/cgroup/memory" + v1;
	if (!v1.empty() && access((dir + "/memory.limit_in_bytes").c_str(), W_OK) == 0)
		return { dir, "memory.limit_in_bytes", "memory.usage_in_bytes", "tasks" };
	return {};
}

bool write_file(const std::string &path, const std::string &text)
{
	std::ofstream out(path);
	out << text;
	out.close();
	return out.good();
}

// The calling thread joins `cg`, limited to its usage + 2 MiB, and decides: a 32,768-entry ring
// under auto and under uring, then a default one under auto.
std::string decide_in(const Memcg &cg)
{
	long long usage = 0;
	if (!write_file(cg.dir + "/" + cg.join, std::to_string(gettid())))
		return "cannot join the cgroup";
	std::ifstream(cg.dir + "/" + cg.usage) >> usage;
	if (!write_file(cg.dir + "/" + cg.limit, std::to_string(usage + (2 << 20))))
		return "cannot set the limit";
	int fds = count_fds();
	lu_driver_set_entries(32768);
	std::string big = decide("auto") + "\n" + decide("uring") + "\n";
	std::string leak = count_fds() == fds ? "" : "fds leaked\n";
	lu_driver_set_entries(LU_DRIVER_DEFAULT_ENTRIES);
	return big + leak + decide("auto");
}

// Rings are charged to the memory cgroup (since 5.12).  A thread in a cgroup of its own, limited
// to its usage + 2 MiB: a 32,768-entry ring (3 MiB) cannot be made, so auto falls back and
// uring fails, each saying ENOMEM, with no descriptor left behind; a default ring then works.
//
// A failed setup fills the cgroup to its limit (its peak usage is the limit, every run), and
// io_uring's exit work frees those pages asynchronously; a page fault in that window is
// OOM-killed (seen once in CI under ASan, with the whole child in a v1 cgroup: "child status 9").
// Under v1 only the thread moves, and page faults are charged to the cgroup of the mm's owner,
// the main thread, so none can meet the limit.  Under v2 the whole child moves, and the window
// stays.
TEST(Backend, MemcgLimitFallsBack)
{
	Memcg parent = own_memcg();
	if (parent.dir.empty() || !kernel_at_least(5, 12))
		GTEST_SKIP() << "no writable memory cgroup (or a kernel before 5.12)";
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
	if (parent.join == "cgroup.procs")
		GTEST_SKIP() << "TSan's shadow memory alone outgrows the headroom of a v2 cgroup";
#endif
#endif
	Memcg cg = parent;
	cg.dir += "/lu-test-" + std::to_string(getpid());
	if (mkdir(cg.dir.c_str(), 0755) != 0)
		GTEST_SKIP() << "cannot make a memory cgroup: " << strerror(errno);
	std::string out = in_child([&] {
		std::string seen;
		std::thread([&] { seen = decide_in(cg); }).join();
		return seen;
	});
	for (int i = 0; i < 100 && rmdir(cg.dir.c_str()) != 0 && errno == EBUSY; i++)
		usleep(10000);
	std::string enomem = "io_uring_setup failed: ENOMEM (Cannot allocate memory)";
	EXPECT_EQ(out, "0|posix|auto|auto: " + enomem + "; using posix\n" +
			       std::to_string(-ENOMEM) +
			       "|posix|uring|uring: requested by LEAN_IO_BACKEND, but " + enomem +
			       "\n0|uring|auto|auto: io_uring works; using uring");
}

// ---- the process-wide memo, in a fresh process per value ----

/*
 * The memo can only be observed in a fresh process, so BackendProcess.Memo re-executes this
 * binary with LU_BACKEND_MEMO_CHILD set; this hook then runs before gtest does, reports what
 * the process decided and whether the decision stayed put, and exits.
 */
std::string memo_observations()
{
	int ret = lu_backend_init();
	const struct lu_backend *b = lu_backend();
	std::string first = show(ret, *b);
	setenv("LEAN_IO_BACKEND", "posix", 1);
	bool stable = lu_backend_init() == ret && lu_backend() == b &&
		      show(ret, *lu_backend()) == first &&
		      lu_backend_is_uring() == (b->kind == LU_BACKEND_URING);
	return first + (stable ? "\nstable\n" : "\nchanged after the first decision\n");
}

const bool memo_child = [] {
	if (!getenv("LU_BACKEND_MEMO_CHILD"))
		return false;
	std::string out = memo_observations();
	ssize_t unused = write(1, out.data(), out.size());
	(void)unused;
	_exit(0);
}();

std::string run_memo_child(const char *value)
{
	return in_child([value] {
		if (value)
			setenv("LEAN_IO_BACKEND", value, 1);
		else
			unsetenv("LEAN_IO_BACKEND");
		setenv("LU_BACKEND_MEMO_CHILD", "1", 1);
		execl("/proc/self/exe", "lu_tests", (char *)nullptr);
		return std::string("exec failed");
	});
}

TEST(BackendProcess, Memo)
{
	const struct {
		const char *value;
		std::string expect;
	} cases[] = {
		{ nullptr, "0|uring|auto|auto: io_uring works; using uring" },
		{ "posix", "0|posix|posix|posix: requested by LEAN_IO_BACKEND" },
		{ "uring", "0|uring|uring|uring: requested by LEAN_IO_BACKEND" },
		{ "fast", "-22|posix|invalid|LEAN_IO_BACKEND=\"fast\" is not one of uring, posix, "
			  "auto" },
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.value ? c.value : "(unset)");
		EXPECT_EQ(run_memo_child(c.value), c.expect + "\nstable\n");
	}
}

}  // namespace
