/*
 * test_util.h - small helpers the tier-1 test files share.
 */
#ifndef LU_TEST_UTIL_H
#define LU_TEST_UTIL_H

#include <dirent.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

/* Everything `fd` yields until end of file (or an error), with plain read(2). */
inline std::string read_to_eof(int fd)
{
	std::string s;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		s.append(buf, (size_t)n);
	return s;
}

/* Open descriptors of this process (with the one opendir itself takes). */
inline int count_fds()
{
	int n = 0;
	DIR *dir = opendir("/proc/self/fd");
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* The contents of `path` (relative to `dirfd`), or "<missing>" if it cannot be opened. */
inline std::string file_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "<missing>";
	std::string s = read_to_eof(fd);
	close(fd);
	return s;
}

/* `n` bytes from a seeded generator: test data that differs everywhere yet is reproducible. */
inline std::string random_bytes(size_t n, unsigned seed)
{
	std::mt19937 gen(seed);
	std::string s(n, '\0');
	for (auto &c : s)
		c = (char)gen();
	return s;
}

/*
 * Runs `child` in a forked process whose stdout is a pipe, and returns everything written to
 * it: the string `child` returns, or what a program it execs prints.  The child must exit 0.
 */
inline std::string in_child(const std::function<std::string()> &child)
{
	int p[2];
	if (pipe(p) != 0)
		return "pipe failed";
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		std::string out = child();
		ssize_t unused = write(1, out.data(), out.size());
		(void)unused;
		_exit(0);
	}
	close(p[1]);
	std::string out = read_to_eof(p[0]);
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
	return out;
}

/* CLOCK_MONOTONIC in nanoseconds. */
// Whether this machine can listen on ::1 (a container may have no IPv6 loopback).
inline bool has_ipv6_loopback()
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sockaddr_in6 a{};
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	bool ok = bind(fd, (sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

inline int64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A fresh directory, removed with everything in it at the end of the test. */
class TempDir {
public:
	TempDir()
	{
		const char *base = getenv("TMPDIR");
		path_ = std::string(base && *base ? base : "/tmp") + "/lu-test-XXXXXX";
		if (!mkdtemp(&path_[0]))
			throw std::runtime_error("mkdtemp failed");
		fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	~TempDir()
	{
		close(fd_);
		nftw(path_.c_str(),
		     [](const char *p, const struct stat *, int, struct FTW *) { return remove(p); },
		     16, FTW_DEPTH | FTW_PHYS);
	}
	int fd() const { return fd_; }
	std::string path(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
	int fd_;
};

// Make syscall `nr` fail with `err` in this process, as a container runtime's profile would.
inline bool deny_syscall(long nr, int err)
{
#if defined(__x86_64__)
	const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
	sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	sock_fprog prog = { (unsigned short)(sizeof(filter) / sizeof(filter[0])), filter };
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// Every descriptor left under a limit of 64, held: a process at its fd limit.  The caller closes them.
inline std::vector<int> take_every_fd()
{
	rlimit lim = { 64, 64 };
	setrlimit(RLIMIT_NOFILE, &lim);
	std::vector<int> held;
	for (int fd; (fd = dup(0)) >= 0;)
		held.push_back(fd);
	return held;
}

/* Owners a slots table released, and how often: the release function the tests give it. */
inline std::mutex released_mu;
inline std::map<void *, int> released;

inline void count_release(void *owner)
{
	std::lock_guard<std::mutex> g(released_mu);
	released[owner]++;
}

#endif
