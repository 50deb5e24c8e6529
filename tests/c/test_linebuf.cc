// The buffered handle (handle.h) against the real glibc, on real pipes, pseudo-terminals and
// files: the same calls through a lu_handle and through a FILE, and after every call the bytes
// that reached each fd must be the same.  glibc's choices (buffer sizes, line buffering on a
// terminal, flushing stdout before a terminal read) are observed on glibc itself, in this
// process or in a freshly executed copy of it, never restated from a reading of its source.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "backend.h"
#include "handle.h"
}

namespace {

// Written by the test after a call, never by the code under test: everything before it on the
// far end was written before it.  Test data is letters and newlines only.
const char kMarker = '\x01';

enum Kind { PIPE, PTY, FILE_RW };

const char *kind_name(Kind k)
{
	return k == PIPE ? "pipe" : k == PTY ? "pty" : "file";
}

// A program's fd (`near`) and the test's view of it (`far`): a pipe, or a pseudo-terminal in
// raw mode (no output processing, so the bytes arrive as written; input is there at once).
struct Channel {
	int near = -1, far = -1;
	Channel() = default;
	Channel(const Channel &) = delete;
	Channel &operator=(const Channel &) = delete;
	~Channel()
	{
		if (near >= 0)
			close(near);
		if (far >= 0)
			close(far);
	}
};

// For output, near is a pipe's write end; for input (`input`), its read end.
void open_channel(Kind kind, Channel &c, bool input = false)
{
	if (kind == PIPE) {
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		c.near = p[input ? 0 : 1];
		c.far = p[input ? 1 : 0];
		return;
	}
	ASSERT_EQ(openpty(&c.far, &c.near, nullptr, nullptr, nullptr), 0);
	termios t;
	ASSERT_EQ(tcgetattr(c.near, &t), 0);
	cfmakeraw(&t);
	ASSERT_EQ(tcsetattr(c.near, TCSANOW, &t), 0);
	fcntl(c.far, F_SETFD, FD_CLOEXEC);
	fcntl(c.near, F_SETFD, FD_CLOEXEC);
}

// The far end's bytes up to the marker, waiting for it at most 10 s.
std::string until_marker(int far)
{
	std::string got;
	for (;;) {
		pollfd p = {far, POLLIN, 0};
		if (poll(&p, 1, 10000) != 1) {
			ADD_FAILURE() << "the marker never arrived";
			return got;
		}
		char buf[65536];
		ssize_t n = read(far, buf, sizeof buf);
		if (n <= 0) {
			ADD_FAILURE() << "the far end closed before the marker";
			return got;
		}
		got.append(buf, (size_t)n);
		size_t m = got.find(kMarker);
		if (m != std::string::npos) {
			EXPECT_EQ(m + 1, got.size()) << "bytes after the marker";
			got.resize(m);
			return got;
		}
	}
}

// What reached the far end since the last call.  "Nothing has arrived yet" proves nothing by
// itself (a pseudo-terminal delivers asynchronously), so the marker is sent and waited for.
std::string arrived(const Channel &c)
{
	EXPECT_EQ(write(c.near, &kMarker, 1), 1);
	return until_marker(c.far);
}

std::string letters(std::mt19937 &rng, size_t n, double newline)
{
	std::bernoulli_distribution nl(newline);
	std::string s(n, 'x');
	for (auto &ch : s)
		ch = nl(rng) ? '\n' : (char)('a' + rng() % 26);
	return s;
}

// Declared after the channels they write to, so closed before them even when an assertion
// returns early: a FILE flushed into a pipe that nobody reads any more would raise SIGPIPE.
using File = std::unique_ptr<FILE, int (*)(FILE *)>;
using Handle = std::unique_ptr<lu_handle, int (*)(lu_handle *)>;

File owned(FILE *f)
{
	return File(f, fclose);
}

Handle owned(lu_handle *h)
{
	return Handle(h, lu_handle_close);
}

Handle from_fd(int fd, bool readable, bool writable, lu_buffering b)
{
	lu_handle *h = nullptr;
	EXPECT_EQ(lu_handle_from_fd(fd, readable, writable, b, false, &h), 0);
	return owned(h);
}

std::string file_contents(int fd)
{
	struct stat st;
	EXPECT_EQ(fstat(fd, &st), 0);
	std::string s((size_t)st.st_size, '\0');
	EXPECT_EQ(pread(fd, &s[0], s.size(), 0), (ssize_t)s.size());
	return s;
}

/*
 * One fd for a handle and a twin for a FILE, driven with the same calls; check() compares
 * what reached them.  A file is read-write, with `prefill` bytes to read.
 */
struct Twins {
	Kind kind;
	lu_buffering mode;
	Channel ours, theirs;
	Handle handle{nullptr, lu_handle_close};
	File file{nullptr, fclose};
	size_t block = 0;  // glibc's choice of buffer size for this fd: st_blksize, at most BUFSIZ

	Twins(Kind k, lu_buffering m) : kind(k), mode(m) {}

	void start(const std::string &dir, const std::string &prefill)
	{
		if (kind != FILE_RW) {
			open_channel(kind, ours);
			open_channel(kind, theirs);
		} else {
			for (Channel *c : {&ours, &theirs}) {
				std::string p = dir + (c == &ours ? "/ours" : "/theirs");
				c->near = open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
					       0600);
				ASSERT_GE(c->near, 0);
				ASSERT_EQ(pwrite(c->near, prefill.data(), prefill.size(), 0),
					  (ssize_t)prefill.size());
			}
		}
		struct stat st;
		ASSERT_EQ(fstat(ours.near, &st), 0);
		block = st.st_blksize < BUFSIZ ? (size_t)st.st_blksize : BUFSIZ;
		handle = from_fd(ours.near, kind == FILE_RW, true, mode);
		file = owned(fdopen(dup(theirs.near), kind == FILE_RW ? "r+" : "w"));
		ASSERT_TRUE(handle && file);
		if (mode != LU_BUF_DEFAULT) {
			int m = mode == LU_BUF_LINE ? _IOLBF
				: mode == LU_BUF_NONE ? _IONBF
						      : _IOFBF;
			ASSERT_EQ(setvbuf(file.get(), nullptr, m, 0), 0);
		}
	}

	void write(const std::string &s)
	{
		ASSERT_EQ(fwrite(s.data(), 1, s.size(), file.get()), s.size());
		ASSERT_EQ(lu_handle_write(handle.get(), s.data(), s.size()), 0);
	}

	void flush()
	{
		ASSERT_EQ(fflush(file.get()), 0);
		ASSERT_EQ(lu_handle_flush(handle.get()), 0);
	}

	// As Lean's Handle.read does it on a FILE: nothing once at EOF.
	void read(size_t n)
	{
		FILE *f = file.get();
		// The one intended difference (docs/differences.md): a read that goes around the
		// buffer makes glibc drop the pending output; the handle writes it first.
		if (!feof(f) && n >= block && f->_IO_write_ptr > f->_IO_write_base)
			fflush(f);
		std::vector<char> a(n + 1), b(n + 1);
		size_t got_f = feof(f) ? 0 : fread(a.data(), 1, n, f);
		ASSERT_EQ(lu_handle_read(handle.get(), b.data(), n), (ssize_t)got_f);
		ASSERT_EQ(memcmp(a.data(), b.data(), got_f), 0);
		ASSERT_EQ(feof(f) != 0, lu_handle_is_eof(handle.get()));
	}

	// The same bytes reached both fds.  Files are compared whole only when `full`; their sizes
	// and fd positions, which every write moves, always.
	void check(bool full)
	{
		if (kind != FILE_RW) {
			std::string want = arrived(theirs), got = arrived(ours);
			ASSERT_EQ(got.size(), want.size()) << "bytes that reached the fd";
			ASSERT_EQ(got, want);
			return;
		}
		struct stat a, b;
		ASSERT_EQ(fstat(ours.near, &a), 0);
		ASSERT_EQ(fstat(theirs.near, &b), 0);
		ASSERT_EQ(a.st_size, b.st_size) << "file size";
		ASSERT_EQ(lseek(ours.near, 0, SEEK_CUR), lseek(theirs.near, 0, SEEK_CUR))
			<< "fd position";
		if (full)
			ASSERT_EQ(file_contents(ours.near), file_contents(theirs.near));
	}

	void close_both()
	{
		size_t glibc_block = (size_t)(file->_IO_buf_end - file->_IO_buf_base);
		if (mode != LU_BUF_NONE)
			EXPECT_EQ(glibc_block, block) << "glibc's own buffer";
		ASSERT_EQ(fclose(file.release()), 0);
		ASSERT_EQ(lu_handle_close(handle.release()), 0);
		check(true);
	}
};

class LikeGlibc : public ::testing::TestWithParam<std::tuple<Kind, lu_buffering>> {
protected:
	void SetUp() override
	{
		ASSERT_EQ(lu_backend_init(), 0);
		ASSERT_TRUE(lu_backend_is_uring()) << "the ring path is the one under test";
		char tmpl[] = "/tmp/lu-linebuf-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override
	{
		std::string cmd = "rm -rf " + dir_;
		ASSERT_EQ(system(cmd.c_str()), 0);
	}
	std::string dir_;
};

// Random writes (0 to 4 buffers long, newline density from none to half), flushes and, on a
// read-write file, reads, through a handle and a FILE on twin fds: after every call the same
// bytes must have reached both.  Buffer sizes are glibc's: a pipe 4096, a pty 1024.
TEST_P(LikeGlibc, SameBytesReachTheFdAfterEveryCall)
{
	const Kind kind = std::get<0>(GetParam());
	const double densities[] = {0.0, 0.002, 0.02, 0.1, 0.5};

	for (unsigned seq = 0; seq < 10; seq++) {
		SCOPED_TRACE("sequence " + std::to_string(seq));
		std::mt19937 rng(1000 * seq + 10 * kind + std::get<1>(GetParam()));
		const double newline = densities[seq % 5];
		Twins t(kind, std::get<1>(GetParam()));
		// half the files are read to EOF and written on, half are read all along
		size_t prefill = kind != FILE_RW ? 0 : seq % 2 ? 40000 : 800000;
		t.start(dir_, letters(rng, prefill, newline));
		if (HasFatalFailure())
			return;
		if (kind != FILE_RW)
			ASSERT_EQ(t.block, kind == PTY ? 1024u : 4096u);
		const size_t block = t.block;
		for (int step = 0; step < 300; step++) {
			unsigned what = rng() % 100;
			size_t n;
			std::string op;
			if (kind == FILE_RW && what < 30) {
				n = rng() % 4 == 0 ? rng() % (3 * block) : rng() % 200;
				op = "read " + std::to_string(n);
				t.read(n);
			} else if (what < 36) {
				op = "flush";
				t.flush();
			} else {
				unsigned shape = rng() % 10;
				n = shape < 4 ? 60 : shape < 7 ? block + block / 4 : 4 * block;
				n = rng() % n;
				op = "write " + std::to_string(n);
				t.write(letters(rng, n, newline));
			}
			if (!HasFatalFailure())
				t.check(step % 32 == 0);
			ASSERT_FALSE(HasFatalFailure()) << "step " << step << ": " << op;
		}
		t.close_both();
	}
}

std::string twins_name(const testing::TestParamInfo<LikeGlibc::ParamType> &i)
{
	const char *modes[] = {"default", "full", "line", "none"};
	return std::string(kind_name(std::get<0>(i.param))) + "_" + modes[std::get<1>(i.param)];
}

INSTANTIATE_TEST_SUITE_P(
	Streams, LikeGlibc,
	testing::Combine(testing::Values(PIPE, PTY, FILE_RW),
			 testing::Values(LU_BUF_DEFAULT, LU_BUF_FULL, LU_BUF_LINE, LU_BUF_NONE)),
	twins_name);

// Issue #13: one 5,000-byte write of 50 whole lines to a fresh line-buffered stream.  glibc
// writes a whole block straight to the fd and the rest line by line: all 5,000 bytes are out
// when the call returns.  The same after an earlier write left a partial line in the buffer,
// and with a last line that is not finished (it stays in the buffer).
TEST(LineBuffered, FiveThousandByteWriteReachesTheFd)
{
	ASSERT_EQ(lu_backend_init(), 0);
	std::string lines;
	for (int i = 0; i < 50; i++) {
		std::string line = "line " + std::to_string(i);
		line.resize(99, '.');
		lines += line + "\n";
	}
	const struct {
		const char *name;
		std::string before, write;
	} cases[] = {
		{"fresh stream", "", lines},
		{"after a partial line", "prompt> ", lines},
		{"unfinished last line", "", lines.substr(0, 4970)},
	};
	for (Kind kind : {PIPE, PTY}) {
		for (const auto &c : cases) {
			SCOPED_TRACE(std::string(kind_name(kind)) + ", " + c.name);
			Twins t(kind, LU_BUF_LINE);
			t.start("", "");
			if (!c.before.empty()) {
				t.write(c.before);
				t.check(true);
			}
			t.write(c.write);
			std::string got = arrived(t.ours), want = arrived(t.theirs);
			EXPECT_EQ(want.size(), (c.before + c.write).rfind('\n') + 1)
				<< "glibc writes through the last newline";
			EXPECT_EQ(got.size(), want.size());
			EXPECT_EQ(got, want);
		}
	}
}

/*
 * The glibc side of the tests below runs in a fresh copy of this program (fresh stdio, whose
 * streams decide their buffering at their first use), started by run_glibc_child:
 *  - LU_LINEBUF_CHILD=<n>: print "prompt" on stdout without a newline, fread n bytes from
 *    stdin (or from fd 3 if LU_LINEBUF_FD3 is set), write the marker to fd 1 with write(2),
 *    and leave without flushing (_exit);
 *  - LU_LINEBUF_CHILD=exit: read one character from stdin, then exit(3) normally.
 */
const bool glibc_child = [] {
	const char *what = getenv("LU_LINEBUF_CHILD");
	if (!what)
		return false;
	if (strcmp(what, "exit") == 0) {
		getchar();
		exit(0);
	}
	size_t n = strtoul(what, nullptr, 10);
	FILE *in = getenv("LU_LINEBUF_FD3") ? fdopen(3, "r") : stdin;
	fputs("prompt", stdout);
	std::vector<char> buf(n);
	if (fread(buf.data(), 1, n, in) != n)
		_exit(2);
	ssize_t unused = write(1, &kMarker, 1);
	(void)unused;
	// TSan's _exit still flushes stdio: with fd 1 closed, that flush writes nothing.
	close(1);
	_exit(0);
}();

// fds[i] becomes the child's fd i (-1: closed); returns the child's exit status.
int run_glibc_child(const std::string &what, const std::vector<int> &fds)
{
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		std::vector<int> high;
		for (int fd : fds)
			high.push_back(fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 100));
		for (size_t i = 0; i < high.size(); i++) {
			if (high[i] >= 0)
				dup2(high[i], (int)i);
			else
				close((int)i);
		}
		setenv("LU_LINEBUF_CHILD", what.c_str(), 1);
		if (fds.size() > 3)
			setenv("LU_LINEBUF_FD3", "1", 1);
		execl("/proc/self/exe", "lu_tests", (char *)nullptr);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

enum Input { STDIN_PIPE, STDIN_PTY, OTHER_PTY };

struct ReadCase {
	const char *name;
	Input input;
	Kind out;
	size_t read;
	bool flushed;
};

// What reached stdout when the read returned: "prompt" if it was flushed before the read.
// The input is there before anyone reads: only the decision to flush is observed.
std::string seen_before_read(const ReadCase &c, bool glibc)
{
	Channel in, out;
	open_channel(c.input == STDIN_PIPE ? PIPE : PTY, in, true);
	open_channel(c.out, out);
	std::string input(c.read, 'i');
	EXPECT_EQ(write(in.far, input.data(), input.size()), (ssize_t)input.size());
	if (glibc) {
		std::vector<int> fds = {c.input == OTHER_PTY ? -1 : in.near, out.near, 2};
		if (c.input == OTHER_PTY)
			fds.push_back(in.near);
		EXPECT_EQ(run_glibc_child(std::to_string(c.read), fds), 0);
		return until_marker(out.far);  // the child wrote it
	}
	Handle stdout_h = from_fd(out.near, false, true, LU_BUF_DEFAULT);
	Handle reader = from_fd(in.near, true, false, LU_BUF_DEFAULT);
	lu_handle_set_stdout(stdout_h.get());
	EXPECT_EQ(lu_handle_write(stdout_h.get(), "prompt", 6), 0);
	std::vector<char> buf(c.read);
	EXPECT_EQ(lu_handle_read(reader.get(), buf.data(), c.read), (ssize_t)c.read);
	return arrived(out);
}

// glibc flushes a line-buffered stdout before a line-buffered or unbuffered stream (a
// terminal) reads into its buffer, and only then: not for a pipe on stdin, not for a fully
// buffered stdout, not for a read of a whole buffer or more (it goes straight to the fd).
TEST(FlushBeforeRead, StdoutFollowsGlibcsRule)
{
	ASSERT_EQ(lu_backend_init(), 0);
	const ReadCase cases[] = {
		{"stdin is a pipe", STDIN_PIPE, PTY, 1, false},
		{"stdin is a terminal", STDIN_PTY, PTY, 1, true},
		{"a terminal that is not stdin", OTHER_PTY, PTY, 1, true},
		{"stdout is a pipe", STDIN_PTY, PIPE, 1, false},
		{"a whole buffer is read", STDIN_PTY, PTY, 1024, false},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		std::string theirs = seen_before_read(c, true), ours = seen_before_read(c, false);
		EXPECT_EQ(theirs, c.flushed ? "prompt" : "") << "glibc";
		EXPECT_EQ(ours, theirs);
	}
}

// The reader that is stdout itself (a terminal opened for reading and writing): its own
// output goes out before it reads, and it must not wait for its own mutex.  Once closed, it
// is no longer stdout.
TEST(FlushBeforeRead, StdoutThatReadsDoesNotDeadlock)
{
	ASSERT_EQ(lu_backend_init(), 0);
	Channel t, u;
	open_channel(PTY, t);
	open_channel(PTY, u);
	ASSERT_EQ(write(t.far, "x", 1), 1);
	ASSERT_EQ(write(u.far, "y", 1), 1);
	char c;
	{
		Handle h = from_fd(t.near, true, true, LU_BUF_DEFAULT);
		lu_handle_set_stdout(h.get());
		ASSERT_EQ(lu_handle_write(h.get(), "prompt", 6), 0);
		ASSERT_EQ(lu_handle_read(h.get(), &c, 1), 1);
		EXPECT_EQ(c, 'x');
		EXPECT_EQ(arrived(t), "prompt");
	}
	Handle other = from_fd(u.near, true, false, LU_BUF_DEFAULT);
	ASSERT_EQ(lu_handle_read(other.get(), &c, 1), 1);
	EXPECT_EQ(c, 'y');
}

// fopen'd terminals are line buffered by default, like every glibc stream on a terminal.
TEST(DefaultBuffering, TerminalOpenedByPathIsLineBuffered)
{
	ASSERT_EQ(lu_backend_init(), 0);
	if (getsid(0) == getpid())
		GTEST_SKIP() << "a session leader would make the terminal its controlling one";
	Channel t;
	open_channel(PTY, t);
	const char *name = ttyname(t.near);
	ASSERT_NE(name, nullptr);
	lu_handle *h;
	ASSERT_EQ(lu_handle_open(name, "w", &h), 0);
	Handle ours = owned(h);
	File theirs = owned(fopen(name, "w"));
	ASSERT_TRUE(theirs);
	ASSERT_EQ(lu_handle_write(h, "one\ntw", 6), 0);
	EXPECT_EQ(arrived(t), "one\n");
	fputs("one\ntw", theirs.get());
	EXPECT_EQ(arrived(t), "one\n") << "glibc";
}

// exit gives unread input back to a seekable stdin, so that the next reader of the same open
// file (the shell's next command) starts where the program stopped reading.
TEST(ExitFlush, UnreadInputGoesBackToTheFile)
{
	ASSERT_EQ(lu_backend_init(), 0);
	char path[] = "/tmp/lu-linebuf-exit-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	std::string data(20000, 'z');
	ASSERT_EQ(write(fd, data.data(), data.size()), (ssize_t)data.size());

	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	ASSERT_EQ(run_glibc_child("exit", {fd, -1, 2}), 0);
	off_t glibc_pos = lseek(fd, 0, SEEK_CUR);
	EXPECT_EQ(glibc_pos, 1);

	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	Handle h = from_fd(fd, true, false, LU_BUF_DEFAULT);
	char c;
	ASSERT_EQ(lu_handle_read(h.get(), &c, 1), 1);
	EXPECT_GT(lseek(fd, 0, SEEK_CUR), 1) << "the buffer's read-ahead";
	lu_handle_flush_all();
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), glibc_pos);
	h.reset();
	close(fd);
}

} // namespace
