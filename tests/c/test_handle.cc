// The buffered handle (handle.h) against the thing it must imitate: glibc's FILE, driven with
// the same operations on real files, compared after every step.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "backend.h"
#include "dir.h"
#include "handle.h"
#include "ops.h"
}

namespace {

class Handle : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_EQ(lu_backend_init(), 0);
		char tmpl[] = "/tmp/lu-handle-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override
	{
		std::string cmd = "rm -rf " + dir_;
		ASSERT_EQ(system(cmd.c_str()), 0);
	}
	std::string path(const char *name) const { return dir_ + "/" + name; }
	void write_file(const char *name, const std::string &data) const
	{
		FILE *f = fopen(path(name).c_str(), "wb");
		ASSERT_NE(f, nullptr);
		ASSERT_EQ(fwrite(data.data(), 1, data.size(), f), data.size());
		fclose(f);
	}
	off_t size_of(const std::string &p) const
	{
		struct stat st;
		return stat(p.c_str(), &st) == 0 ? st.st_size : -1;
	}
	std::string dir_;
};

// upstream's lean_io_prim_handle_get_line at the pinned commit, on a FILE*
std::string upstream_get_line(FILE *fp)
{
	if (feof(fp))
		return "";
	const int buf_sz = 64;
	char buf[buf_sz];
	std::string result;
	for (;;) {
		char *out = fgets(buf, buf_sz, fp);
		if (out == nullptr)
			return result;
		result.append(out);
		if (strlen(buf) < buf_sz - 1 || buf[buf_sz - 2] == '\n')
			return result;
	}
}

TEST_F(Handle, EofIsLateAndSticky)
{
	write_file("a", "hello");
	lu_handle *h;
	ASSERT_EQ(lu_handle_open(path("a").c_str(), "rb", &h), 0);
	char buf[16];
	EXPECT_EQ(lu_handle_read(h, buf, 5), 5);
	EXPECT_FALSE(lu_handle_is_eof(h)) << "consuming the last byte is not EOF";
	EXPECT_EQ(lu_handle_read(h, buf, 5), 0);
	EXPECT_TRUE(lu_handle_is_eof(h));
	EXPECT_EQ(lu_handle_read(h, buf, 5), 0);
	lu_line line;
	ASSERT_EQ(lu_handle_get_line(h, &line), 0);
	EXPECT_STREQ(line.data, "");
	free(line.data);
	EXPECT_EQ(lu_handle_close(h), 0);
}

TEST_F(Handle, ReadsLikeFread)
{
	std::mt19937 rng(7);
	std::string data;
	for (int i = 0; i < 100000; i++)
		data.push_back((char)rng());
	write_file("r", data);
	for (int round = 0; round < 20; round++) {
		FILE *f = fopen(path("r").c_str(), "rb");
		lu_handle *h;
		ASSERT_EQ(lu_handle_open(path("r").c_str(), "rb", &h), 0);
		for (;;) {
			size_t n = std::uniform_int_distribution<size_t>(0, 20000)(rng);
			std::vector<char> a(n + 1), b(n + 1);
			size_t got_f = fread(a.data(), 1, n, f);
			ssize_t got_h = lu_handle_read(h, b.data(), n);
			ASSERT_EQ((ssize_t)got_f, got_h);
			ASSERT_EQ(memcmp(a.data(), b.data(), got_f), 0);
			ASSERT_EQ(feof(f) != 0, lu_handle_is_eof(h));
			if (feof(f))
				break;
		}
		fclose(f);
		lu_handle_close(h);
	}
}

TEST_F(Handle, GetLineLikeUpstream)
{
	std::mt19937 rng(11);
	std::string data;
	const char alphabet[] = "ab\n\n\0xyz";
	for (int i = 0; i < 50000; i++) {
		// long runs without newlines, so that lines cross the 63-byte chunks
		if (rng() % 4 == 0)
			data.append(std::uniform_int_distribution<int>(0, 200)(rng), 'L');
		data.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
	}
	write_file("l", data);
	FILE *f = fopen(path("l").c_str(), "rb");
	lu_handle *h;
	ASSERT_EQ(lu_handle_open(path("l").c_str(), "rb", &h), 0);
	int lines = 0;
	for (;;) {
		std::string want = upstream_get_line(f);
		lu_line got;
		ASSERT_EQ(lu_handle_get_line(h, &got), 0);
		ASSERT_EQ(want, std::string(got.data, got.len)) << "line " << lines;
		ASSERT_EQ(feof(f) != 0, lu_handle_is_eof(h)) << "line " << lines;
		free(got.data);
		lines++;
		// a line that starts with a NUL is empty too: only EOF ends the file
		if (want.empty() && feof(f))
			break;
	}
	EXPECT_GT(lines, 1000);
	fclose(f);
	lu_handle_close(h);
}

// Output must reach the file at the same points as with stdio, so that other writers to the
// same pipe or terminal (stderr, a child) interleave the same way.
TEST_F(Handle, WritesReachTheFileWhereStdioFlushes)
{
	std::mt19937 rng(3);
	FILE *f = fopen(path("wf").c_str(), "wb");
	lu_handle *h;
	ASSERT_EQ(lu_handle_open(path("wh").c_str(), "wb", &h), 0);
	std::string chunk(40000, 'z');
	for (int i = 0; i < 2000; i++) {
		size_t n = rng() % 3 == 0 ? std::uniform_int_distribution<size_t>(0, 20000)(rng)
					  : std::uniform_int_distribution<size_t>(0, 300)(rng);
		ASSERT_EQ(fwrite(chunk.data(), 1, n, f), n);
		ASSERT_EQ(lu_handle_write(h, chunk.data(), n), 0);
		ASSERT_EQ(size_of(path("wf")), size_of(path("wh"))) << "after write " << i;
		if (rng() % 50 == 0) {
			fflush(f);
			ASSERT_EQ(lu_handle_flush(h), 0);
		}
	}
	fclose(f);
	ASSERT_EQ(lu_handle_close(h), 0);
	EXPECT_EQ(size_of(path("wf")), size_of(path("wh")));
}

TEST_F(Handle, WrongDirectionFailsWithEbadf)
{
	write_file("x", "abc");
	lu_handle *r, *w;
	ASSERT_EQ(lu_handle_open(path("x").c_str(), "r", &r), 0);
	ASSERT_EQ(lu_handle_open(path("y").c_str(), "w", &w), 0);
	EXPECT_EQ(lu_handle_write(r, "no", 2), -EBADF);
	char c;
	EXPECT_EQ(lu_handle_read(w, &c, 1), -EBADF);
	lu_line line;
	EXPECT_EQ(lu_handle_get_line(w, &line), -EBADF);
	// A read of a buffer or more fails the same way (glibc would drop the pending output
	// and read the fd anyway: docs/differences.md), after the output went out as it does
	// for a small read.
	ASSERT_EQ(lu_handle_write(w, "out", 3), 0);
	std::vector<char> big(100000);
	EXPECT_EQ(lu_handle_read(w, big.data(), big.size()), -EBADF);
	EXPECT_EQ(size_of(path("y")), 3);
	lu_handle_close(r);
	lu_handle_close(w);
}

TEST_F(Handle, OpenModesAndErrors)
{
	lu_handle *h;
	EXPECT_EQ(lu_handle_open(path("missing").c_str(), "r", &h), -ENOENT);
	EXPECT_EQ(lu_handle_open(path("x").c_str(), "q", &h), -EINVAL);
	EXPECT_EQ(lu_handle_open(dir_.c_str(), "w", &h), -EISDIR);
	write_file("m", "1234");
	ASSERT_EQ(lu_handle_open(path("m").c_str(), "ab", &h), 0);
	ASSERT_EQ(lu_handle_write(h, "56", 2), 0);
	ASSERT_EQ(lu_handle_close(h), 0);
	EXPECT_EQ(size_of(path("m")), 6);
	ASSERT_EQ(lu_handle_open(path("m").c_str(), "wx", &h), -EEXIST);
	// read-write: a write after a read lands where the reader is, as with stdio
	ASSERT_EQ(lu_handle_open(path("m").c_str(), "r+b", &h), 0);
	char buf[8] = {0};
	ASSERT_EQ(lu_handle_read(h, buf, 2), 2);
	ASSERT_EQ(lu_handle_write(h, "99", 2), 0);
	ASSERT_EQ(lu_handle_read(h, buf, 8), 2);
	EXPECT_EQ(std::string(buf, 2), "56");
	ASSERT_EQ(lu_handle_close(h), 0);
	FILE *f = fopen(path("m").c_str(), "rb");
	ASSERT_EQ(fread(buf, 1, 8, f), 6u);
	fclose(f);
	EXPECT_EQ(std::string(buf, 6), "129956");
}

struct writer_arg {
	lu_handle *h;
	int id;
};

void *write_lines(void *p)
{
	writer_arg *a = static_cast<writer_arg *>(p);
	for (int i = 0; i < 5000; i++) {
		std::string line = "writer " + std::to_string(a->id) + " line " + std::to_string(i) +
				   std::string(i % 97, '.') + "\n";
		if (lu_handle_write(a->h, line.data(), line.size()) != 0)
			return p;
	}
	return nullptr;
}

TEST_F(Handle, SharedBetweenThreadsNothingTorn)
{
	lu_handle *h;
	ASSERT_EQ(lu_handle_open(path("t").c_str(), "w", &h), 0);
	pthread_t t[4];
	writer_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = {h, i};
		pthread_create(&t[i], nullptr, write_lines, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		EXPECT_EQ(r, nullptr);
	}
	ASSERT_EQ(lu_handle_close(h), 0);
	FILE *f = fopen(path("t").c_str(), "r");
	char line[512];
	int next[4] = {0, 0, 0, 0}, count = 0;
	while (fgets(line, sizeof line, f)) {
		int id, i;
		ASSERT_EQ(sscanf(line, "writer %d line %d", &id, &i), 2) << line;
		ASSERT_EQ(i, next[id]++) << "lines of one writer stay in order";
		ASSERT_EQ(strlen(line), strlen("writer 0 line ") + std::to_string(i).size() + i % 97 + 1);
		count++;
	}
	fclose(f);
	EXPECT_EQ(count, 20000);
}

// Writers sharing one open file must never overwrite each other (issue #13): read/write at
// the current position on a file is the syscall, which holds the file's f_pos lock.
struct Tally {
	size_t bytes = 0, lines = 0, by_letter[26] = {};
};

Tally tally(const std::string &path)
{
	Tally t;
	FILE *f = fopen(path.c_str(), "rb");
	for (int c; f && (c = getc(f)) != EOF;) {
		t.bytes++;
		if (c == '\n')
			t.lines++;
		else if (c >= 'a' && c <= 'z')
			t.by_letter[c - 'a']++;
	}
	if (f)
		fclose(f);
	return t;
}

// Lines of one letter, of varied lengths: `n` lines, and the bytes they make.
std::string letter_lines(char letter, int n, size_t *bytes)
{
	std::string s;
	for (int i = 0; i < n; i++)
		s += std::string(1 + (size_t)(i * 7919) % 61, letter) + "\n";
	*bytes = s.size() - (size_t)n;
	return s;
}

struct handle_writer {
	lu_handle *h;
	const std::string *text;
	int r;
};

void *write_in_lines(void *p)
{
	handle_writer *w = static_cast<handle_writer *>(p);
	const std::string &t = *w->text;
	w->r = 0;
	for (size_t at = 0; at < t.size() && w->r == 0;) {
		size_t nl = t.find('\n', at) + 1;
		w->r = lu_handle_write(w->h, t.data() + at, nl - at);
		at = nl;
	}
	return nullptr;
}

// Two handles on one file, each written by its own thread: every byte and line must be there.
void expect_nothing_lost(const std::string &path, lu_handle *a, lu_handle *b)
{
	size_t a_bytes, b_bytes;
	const int lines = 25000;
	std::string ta = letter_lines('a', lines, &a_bytes);
	std::string tb = letter_lines('b', lines, &b_bytes);
	handle_writer wa = {a, &ta, -1}, wb = {b, &tb, -1};
	pthread_t t[2];
	pthread_create(&t[0], nullptr, write_in_lines, &wa);
	pthread_create(&t[1], nullptr, write_in_lines, &wb);
	pthread_join(t[0], nullptr);
	pthread_join(t[1], nullptr);
	EXPECT_EQ(wa.r, 0);
	EXPECT_EQ(wb.r, 0);
	EXPECT_EQ(lu_handle_close(a), 0);
	EXPECT_EQ(lu_handle_close(b), 0);
	Tally got = tally(path);
	EXPECT_EQ(got.bytes, ta.size() + tb.size());
	EXPECT_EQ(got.lines, 2u * lines);
	EXPECT_EQ(got.by_letter[0], a_bytes);
	EXPECT_EQ(got.by_letter[1], b_bytes);
}

TEST_F(Handle, TwoAppendingOpensOfOneFileLoseNothing)
{
	ASSERT_TRUE(lu_backend_is_uring());
	lu_handle *a, *b;
	ASSERT_EQ(lu_handle_open(path("log").c_str(), "a", &a), 0);
	ASSERT_EQ(lu_handle_open(path("log").c_str(), "a", &b), 0);
	expect_nothing_lost(path("log"), a, b);
}

// `prog >log 2>&1`: one open file behind a buffered stdout and an unbuffered stderr.
TEST_F(Handle, StdoutAndStderrOnOneOpenFileLoseNothing)
{
	ASSERT_TRUE(lu_backend_is_uring());
	int out = open(path("log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(out, 0);
	int err = dup(out);
	lu_handle *a, *b;
	ASSERT_EQ(lu_handle_from_fd(out, false, true, LU_BUF_DEFAULT, true, &a), 0);
	ASSERT_EQ(lu_handle_from_fd(err, false, true, LU_BUF_NONE, true, &b), 0);
	expect_nothing_lost(path("log"), a, b);
}

// A handle on a descriptor that is not open fails as the syscalls do, and does not crash.
TEST_F(Handle, ClosedDescriptorFailsWithEbadf)
{
	const int fd = 1000;  // as fd 1 is for `prog >&-`
	ASSERT_EQ(fcntl(fd, F_GETFD), -1);
	lu_handle *h;
	ASSERT_EQ(lu_handle_from_fd(fd, true, true, LU_BUF_DEFAULT, false, &h), 0);
	char c;
	EXPECT_EQ(lu_handle_read(h, &c, 1), -EBADF);
	EXPECT_EQ(lu_handle_write(h, "x", 1), 0) << "buffered";
	EXPECT_EQ(lu_handle_flush(h), -EBADF);
	EXPECT_EQ(lu_handle_write(h, std::string(20000, 'x').data(), 20000), -EBADF);
	EXPECT_EQ(lu_handle_close(h), 0);
	EXPECT_EQ(lu_uring_ops.read(fd, &c, 1), -EBADF);
	EXPECT_EQ(lu_uring_ops.write(fd, &c, 1), -EBADF);
}

// A nonblocking fd keeps its meaning through the handle, as through glibc's FILE: EAGAIN.
TEST_F(Handle, NonblockingPipeGivesEagainLikeStdio)
{
	int p[2];
	ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	lu_handle *h;
	ASSERT_EQ(lu_handle_from_fd(p[0], true, false, LU_BUF_DEFAULT, false, &h), 0);
	char buf[16];
	EXPECT_EQ(lu_handle_read(h, buf, sizeof buf), -EAGAIN);
	FILE *f = fdopen(dup(p[0]), "r");
	errno = 0;
	EXPECT_EQ(fread(buf, 1, sizeof buf, f), 0u);
	EXPECT_EQ(errno, EAGAIN) << "glibc";
	fclose(f);
	lu_handle_close(h);
	close(p[0]);
	close(p[1]);
}

// The class is the handle's from its creation (docs/differences.md): O_NONBLOCK set later on
// a pipe it reads through the ring is not seen, and the read waits where glibc's fails.
TEST_F(Handle, NonblockingSetLaterIsNotSeen)
{
	ASSERT_TRUE(lu_backend_is_uring());
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	lu_handle *h;
	ASSERT_EQ(lu_handle_from_fd(p[0], true, false, LU_BUF_DEFAULT, false, &h), 0);
	ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	FILE *f = fdopen(dup(p[0]), "r");
	char buf[4];
	errno = 0;
	EXPECT_EQ(fread(buf, 1, 1, f), 0u);
	EXPECT_EQ(errno, EAGAIN) << "glibc";
	fclose(f);
	std::thread later([&] {
		usleep(50000);
		EXPECT_EQ(write(p[1], "late", 4), 4);
	});
	EXPECT_EQ(lu_handle_read(h, buf, 4), 4);
	later.join();
	lu_handle_close(h);
	close(p[0]);
	close(p[1]);
}

// A change the runtime makes (lu_fd_set_nonblocking) is seen at the handle's next read, both
// ways: the read fails with EAGAIN as glibc's would, then waits through the ring again.
TEST_F(Handle, NonblockingSetThroughTheRuntimeIsSeen)
{
	ASSERT_TRUE(lu_backend_is_uring());
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	lu_handle *h;
	ASSERT_EQ(lu_handle_from_fd(p[0], true, false, LU_BUF_DEFAULT, false, &h), 0);
	char buf[4];
	ASSERT_EQ(lu_fd_set_nonblocking(p[0], true), 0);
	EXPECT_TRUE(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	// A handle that missed the change waits in the ring until these bytes come.
	std::thread unblock([&] {
		usleep(200000);
		EXPECT_EQ(write(p[1], "late", 4), 4);
	});
	EXPECT_EQ(lu_handle_read(h, buf, 4), -EAGAIN);
	unblock.join();
	EXPECT_EQ(read(p[0], buf, 4), 4);

	ASSERT_EQ(lu_fd_set_nonblocking(p[0], false), 0);
	EXPECT_FALSE(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	std::thread later([&] {
		usleep(50000);
		EXPECT_EQ(write(p[1], "next", 4), 4);
	});
	EXPECT_EQ(lu_handle_read(h, buf, 4), 4);
	EXPECT_EQ(std::string(buf, 4), "next");
	later.join();
	lu_handle_close(h);
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(lu_fd_set_nonblocking(p[0], true), -EBADF);
}

// The same rule one layer down, for callers without a handle: the ops' read/write on a shared
// file, from two threads on dup'ed fds, and from a parent and a child that inherited the fd.
using LuOps = struct lu_ops;

class SharedFile : public ::testing::TestWithParam<const LuOps *> {
protected:
	void SetUp() override
	{
		ASSERT_EQ(lu_backend_init(), 0);
		char tmpl[] = "/tmp/lu-shared-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
		fd_ = open((dir_ + "/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ASSERT_GE(fd_, 0);
	}
	void TearDown() override
	{
		close(fd_);
		std::string cmd = "rm -rf " + dir_;
		ASSERT_EQ(system(cmd.c_str()), 0);
	}
	std::string dir_;
	int fd_ = -1;
};

const int kChunks = 20000;
const size_t kChunk = 100;

struct ops_writer {
	const LuOps *ops;
	int fd;
	char letter;
	ssize_t r;
};

void *write_chunks(void *p)
{
	ops_writer *w = static_cast<ops_writer *>(p);
	std::string chunk(kChunk - 1, w->letter);
	chunk += '\n';
	w->r = 0;
	for (int i = 0; i < kChunks && w->r >= 0; i++)
		w->r = lu_write_all(w->ops, w->fd, chunk.data(), chunk.size(), -1);
	return nullptr;
}

TEST_P(SharedFile, TwoThreadsOnDupedFdsLoseNothing)
{
	int other = dup(fd_);
	ops_writer a = {GetParam(), fd_, 'a', -1}, b = {GetParam(), other, 'b', -1};
	pthread_t t[2];
	pthread_create(&t[0], nullptr, write_chunks, &a);
	pthread_create(&t[1], nullptr, write_chunks, &b);
	pthread_join(t[0], nullptr);
	pthread_join(t[1], nullptr);
	close(other);
	EXPECT_GE(a.r, 0);
	EXPECT_GE(b.r, 0);
	Tally got = tally(dir_ + "/f");
	EXPECT_EQ(got.bytes, 2 * kChunks * kChunk);
	EXPECT_EQ(got.lines, 2u * kChunks);
	EXPECT_EQ(got.by_letter[0], kChunks * (kChunk - 1));
	EXPECT_EQ(got.by_letter[1], kChunks * (kChunk - 1));
}

// The child writes with write(2) only: it must not touch the ring it shares with the parent.
TEST_P(SharedFile, ParentAndChildOnAnInheritedFdLoseNothing)
{
	pid_t pid = fork();
	if (pid == 0) {
		std::string chunk(kChunk - 1, 'c');
		chunk += '\n';
		for (int i = 0; i < kChunks; i++)
			if (write(fd_, chunk.data(), chunk.size()) != (ssize_t)chunk.size())
				_exit(1);
		_exit(0);
	}
	ops_writer p = {GetParam(), fd_, 'p', -1};
	write_chunks(&p);
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_GE(p.r, 0);
	Tally got = tally(dir_ + "/f");
	EXPECT_EQ(got.bytes, 2 * kChunks * kChunk);
	EXPECT_EQ(got.lines, 2u * kChunks);
	EXPECT_EQ(got.by_letter['c' - 'a'], kChunks * (kChunk - 1));
	EXPECT_EQ(got.by_letter['p' - 'a'], kChunks * (kChunk - 1));
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedFile, testing::Values(&lu_uring_ops, &lu_posix_ops),
			 [](const testing::TestParamInfo<const LuOps *> &i) {
				 return std::string(i.param->name);
			 });

TEST_F(Handle, ReadDirListsWhatReaddirLists)
{
	for (int i = 0; i < 500; i++)
		write_file(("entry-with-a-long-name-" + std::to_string(i)).c_str(), "");
	std::vector<std::string> ours, theirs;
	ASSERT_EQ(lu_read_dir(dir_.c_str(),
			      [](void *ctx, const char *name) {
				      static_cast<std::vector<std::string> *>(ctx)->push_back(name);
				      return 0;
			      },
			      &ours),
		  0);
	DIR *d = opendir(dir_.c_str());
	while (struct dirent *e = readdir(d))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			theirs.push_back(e->d_name);
	closedir(d);
	EXPECT_EQ(ours, theirs);
	EXPECT_EQ(ours.size(), 500u);
	EXPECT_EQ(lu_read_dir(path("missing").c_str(), [](void *, const char *) { return 0; }, nullptr),
		  -ENOENT);
	EXPECT_EQ(lu_read_dir(path("entry-with-a-long-name-0").c_str(),
			      [](void *, const char *) { return 0; }, nullptr),
		  -ENOTDIR);
}

} // namespace
