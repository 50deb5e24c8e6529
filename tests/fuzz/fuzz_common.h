// What both differential fuzzers (fuzz_ops.cc, fuzz_slots.cc) share: the input reader, the
// listing of a scratch tree that the two sides' results are compared on, and the fd census
// that names a leak.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace lu_fuzz {

// The input, a byte at a time; bytes past its end read as 0.
struct Reader {
	const uint8_t *p, *end;
	bool more() const { return p < end; }
	unsigned next() { return p < end ? *p++ : 0; }
};

// Every entry under `dfd`, sorted, one line each, with each file's mode and contents.
inline void tree(int dfd, const std::string &prefix, std::vector<std::string> &out)
{
	std::vector<std::string> names;
	int fd = dup(dfd);
	DIR *d = fdopendir(fd);
	lseek(fd, 0, SEEK_SET);
	while (dirent *e = readdir(d))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names.push_back(e->d_name);
	closedir(d);
	std::sort(names.begin(), names.end());
	for (const std::string &n : names) {
		int f = openat(dfd, n.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		if (f < 0 || fstat(f, &st) != 0) {
			out.push_back("entry " + prefix + n + " unreadable");
		} else if (S_ISDIR(st.st_mode)) {
			out.push_back("dir " + prefix + n);
			tree(f, prefix + n + "/", out);
		} else {
			std::string c;
			char buf[4096];
			ssize_t k;
			while ((k = read(f, buf, sizeof buf)) > 0)
				c.append(buf, (size_t)k);
			out.push_back("file " + prefix + n + " mode " +
				      std::to_string(st.st_mode & 07777) + " [" + c + "]");
		}
		if (f >= 0)
			close(f);
	}
}

inline int remove_entry(const char *p, const struct stat *, int, struct FTW *)
{
	return remove(p);
}

// A run's scratch directory goes with it; failing to remove it would skew the next run.
inline void remove_tree(const std::string &path, const char *who)
{
	if (nftw(path.c_str(), remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "%s: removing the scratch directory: %s\n", who, strerror(errno));
		abort();
	}
}

// The set-up both need: a ring on this thread (`have_ring`, from lu_driver_get, with its
// error), SIGPIPE ignored (a peer closed under a write must be -EPIPE in the trace, not the end
// of the fuzzer), and the directory under which each run makes its scratch tree.
inline std::string init(const char *who, bool have_ring, int err)
{
	signal(SIGPIPE, SIG_IGN);
	if (!have_ring) {
		fprintf(stderr, "%s: no io_uring ring here (%s): nothing to compare\n", who,
			strerror(-err));
		exit(1);
	}
	std::string tmpl = std::string("/tmp/lu-") + who + "-XXXXXX";
	if (!mkdtemp(&tmpl[0])) {
		fprintf(stderr, "%s: mkdtemp: %s\n", who, strerror(errno));
		exit(1);
	}
	return tmpl;
}

// The open fds, with what each is, to name a leak.
inline std::vector<std::string> open_fds()
{
	std::vector<std::string> fds;
	DIR *dir = opendir("/proc/self/fd");
	while (dirent *e = readdir(dir)) {
		char to[256] = "";
		std::string p = std::string("/proc/self/fd/") + e->d_name;
		if (e->d_name[0] != '.' && readlink(p.c_str(), to, sizeof to - 1) > 0)
			fds.push_back(std::string(e->d_name) + " -> " + to);
	}
	closedir(dir);
	std::sort(fds.begin(), fds.end());
	return fds;
}

// Printable, so that a report shows where pipes and files differ.
inline std::string shown(const std::string &s)
{
	std::string o;
	for (unsigned char c : s) {
		if (c >= 32 && c < 127) {
			o += (char)c;
		} else {
			char e[8];
			snprintf(e, sizeof e, "\\x%02x", c);
			o += e;
		}
	}
	return o;
}

}  // namespace lu_fuzz
