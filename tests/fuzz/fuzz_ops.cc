// The differential fuzzer of the operations layer (ops.h) and the buffered handle (handle.h):
// libFuzzer's input is decoded into a short sequence of operations, run once through
// lu_uring_ops and once through lu_posix_ops, each in a fresh scratch directory, and every
// result, every byte read, and the final tree with its contents must be equal.
//
// Input: a stream of operations, each an opcode byte followed by its argument bytes (missing
// bytes read as 0).  Arguments are small indices: an fd slot (8, empty slots are fd -1, so
// EBADF is exercised), a handle slot (4), one of 4 names, one of 8 open flag sets, a length
// (0..255), a data seed, an offset (0..510, or -1).  At most 48 operations per input.
//
// Nothing may block: pipes and socket pairs are modelled (the bytes each direction holds), a
// read on one asks for at most what it holds and is skipped while it holds nothing and a writer
// is open; a handle that reads a channel owns it (its buffer hides bytes from the model).
//
// Handles take their operations from lu_ops(); the target is linked with --wrap=lu_ops so that
// the handle follows the side being run rather than the process's backend.
//
// Built with -DLU_FUZZ_PLANTED_BUG, the uring side's pwrite drops the last byte of a write of
// more than 100 bytes: the check that the harness finds such a bug (tests/fuzz/run.sh).

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.h"

extern "C" {
#include "driver.h"
#include "handle.h"
#include "ops.h"
}

using LuOps = struct lu_ops;

extern "C" const LuOps *__real_lu_ops(void);

namespace {

using lu_fuzz::Reader;
using lu_fuzz::open_fds;
using lu_fuzz::shown;

const LuOps *handle_ops;

#ifdef LU_FUZZ_PLANTED_BUG
ssize_t planted_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return lu_uring_ops.pwrite(fd, buf, len > 100 ? len - 1 : len, off);
}

LuOps planted_ops()
{
	LuOps o = lu_uring_ops;
	o.pwrite = planted_pwrite;
	return o;
}

const LuOps uring_side_ops = planted_ops();
const LuOps *const uring_side = &uring_side_ops;
#else
const LuOps *const uring_side = &lu_uring_ops;
#endif

constexpr int kSlots = 8, kHandles = 4, kMaxOps = 48;
const char *const kNames[] = {"a", "b", "d", "d/a"};
const int kFlags[] = {
	O_RDONLY,
	O_WRONLY | O_CREAT | O_TRUNC,
	O_RDWR | O_CREAT,
	O_WRONLY | O_CREAT | O_APPEND,
	O_RDWR | O_CREAT | O_EXCL,
	O_RDONLY | O_DIRECTORY,
	O_RDWR,
	O_WRONLY | O_TRUNC | O_NONBLOCK,
};
const char *const kModes[] = {"r", "w", "a", "r+", "w+", "a+", "wx", "re"};
const unsigned kRenameFlags[] = {0, RENAME_NOREPLACE, RENAME_EXCHANGE, 1u << 30};

std::string base_dir;

// The bytes a write sends: seeded, with newlines (for getline) and, for odd seeds, NULs.
std::string data_for(unsigned seed, size_t len)
{
	std::string s(len, '\0');
	for (size_t i = 0; i < len; i++) {
		if ((i + seed) % 17 == 16)
			s[i] = '\n';
		else if ((seed & 1) && i % 29 == 5)
			s[i] = '\0';
		else
			s[i] = (char)('A' + (seed * 7 + i) % 58);
	}
	return s;
}

// One direction of a pipe or socket pair: what it holds, as far as the model knows (never
// more than the kernel holds, so that a read of that much cannot block).
struct Channel {
	std::string data;
	bool claimed = false;  // a handle reads it
};

struct Slot {
	int fd = -1;
	int in = -1, out = -1;  // channel read from / written to, if a pipe or socket end
};

struct Hnd {
	lu_handle *h = nullptr;
	int fd = -1;  // of a handle made from a slot's fd
	bool stale = false;  // that fd was closed: its number may now be anything, even a pipe
	int in = -1, out = -1;
	std::string unflushed;  // written to a channel, not yet known to have reached it
};

class Run {
public:
	Run(const LuOps &o, const char *sub) : o_(o), path_(base_dir + "/" + sub)
	{
		if (mkdir(path_.c_str(), 0700) != 0 ||
		    (dirfd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			perror("fuzz_ops: scratch directory");
			abort();
		}
		handle_ops = &o;
	}

	std::vector<std::string> go(Reader in)
	{
		for (int n = 0; n < kMaxOps && in.more(); n++)
			step(in);
		finish();
		return std::move(t_);
	}

private:
	void r(const char *what, long long v, const std::string &bytes = "")
	{
		t_.push_back(std::string(what) + "=" + std::to_string(v) +
			     (bytes.empty() ? "" : " [" + bytes + "]"));
	}

	bool writers(int c) const
	{
		for (const Slot &s : slot_)
			if (s.fd >= 0 && s.out == c)
				return true;
		return false;
	}

	void close_slot(int i)
	{
		if (slot_[i].fd >= 0)
			r("close", o_.close(slot_[i].fd));
		forget(i);
	}

	void forget(int i)
	{
		for (Hnd &h : hnd_)
			if (h.h && h.fd >= 0 && h.fd == slot_[i].fd)
				h.stale = true;
		slot_[i] = Slot();
	}

	// Make a handle's buffered writes reach the channel before its reader looks.
	void flush_writers(int c)
	{
		for (Hnd &h : hnd_)
			if (h.h && h.out == c && !h.unflushed.empty())
				hflush(h);
	}

	void hflush(Hnd &h)
	{
		int v = lu_handle_flush(h.h);
		r("hflush", v);
		if (v == 0 && h.out >= 0)
			chan_[h.out].data += h.unflushed;
		h.unflushed.clear();
	}

	// How much a read on channel c may ask for; -1: skip it, it could block.
	long readable(int c, size_t len, bool by_handle)
	{
		if (c < 0)
			return (long)len;
		flush_writers(c);
		const Channel &ch = chan_[c];
		if (!writers(c))
			return (long)len;
		if ((ch.claimed && !by_handle) || ch.data.empty())
			return -1;
		return (long)std::min(len, ch.data.size());
	}

	void consumed(int c, ssize_t n)
	{
		if (c >= 0 && n > 0)
			chan_[c].data.erase(0, std::min((size_t)n, chan_[c].data.size()));
	}

	void new_pair(int i, bool sock)
	{
		int j = (i + 1) % kSlots, fds[2];
		close_slot(i);
		close_slot(j);
		int v = sock ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
			     : pipe2(fds, O_CLOEXEC);
		r(sock ? "socketpair" : "pipe", v < 0 ? -errno : 0);
		if (v < 0)
			return;
		int c = (int)chan_.size();
		chan_.resize(chan_.size() + 2);
		slot_[i] = {fds[0], c, sock ? c + 1 : -1};
		slot_[j] = {fds[1], sock ? c + 1 : -1, c};
	}

	void step(Reader &in)
	{
		char buf[256];
		unsigned op = in.next() % 21;
		int si = in.next() % kSlots;
		Slot &s = slot_[si];

		switch (op) {
		case 0: {
			int fl = kFlags[in.next() % 8] | O_CLOEXEC;
			const char *name = kNames[in.next() % 4];
			close_slot(si);
			int fd = o_.openat(dirfd_, name, fl, 0644);
			r("open", fd < 0 ? fd : 0);
			if (fd >= 0)
				s.fd = fd;
			break;
		}
		case 1:
		case 12: {
			size_t len = in.next();
			std::string d = data_for(in.next(), len);
			ssize_t n = op == 1 ? o_.write(s.fd, d.data(), len)
					    : o_.send(s.fd, d.data(), len, MSG_NOSIGNAL);
			r(op == 1 ? "write" : "send", n);
			if (n > 0 && s.out >= 0)
				chan_[s.out].data += d.substr(0, (size_t)n);
			break;
		}
		case 2:
		case 13: {
			long len = readable(s.in, in.next(), false);
			if (len < 0) {
				r("read-skipped", 0);
				break;
			}
			ssize_t n = op == 2 ? o_.read(s.fd, buf, (size_t)len)
					    : o_.recv(s.fd, buf, (size_t)len, 0);
			r(op == 2 ? "read" : "recv", n, n > 0 ? std::string(buf, (size_t)n) : "");
			consumed(s.in, n);
			break;
		}
		case 3: {
			size_t len = in.next();
			unsigned ob = in.next();
			off_t off = ob == 255 ? -1 : (off_t)ob * 2;
			ssize_t n = o_.pread(s.fd, buf, len, off);
			r("pread", n, n > 0 ? std::string(buf, (size_t)n) : "");
			break;
		}
		case 4: {
			size_t len = in.next();
			std::string d = data_for(in.next(), len);
			unsigned ob = in.next();
			off_t off = ob == 255 ? -1 : (off_t)ob * 2;
			r("pwrite", o_.pwrite(s.fd, d.data(), len, off));
			break;
		}
		case 5:
			r("fsync", o_.fsync(s.fd));
			break;
		case 6:
			r("close", o_.close(s.fd));
			forget(si);
			break;
		case 7:
			r("unlinkat", o_.unlinkat(dirfd_, kNames[si % 4], si & 4 ? AT_REMOVEDIR : 0));
			break;
		case 8:
			r("mkdirat", o_.mkdirat(dirfd_, kNames[si % 4], 0755));
			break;
		case 9: {
			unsigned b = in.next();
			r("renameat", o_.renameat(dirfd_, kNames[si % 4], dirfd_, kNames[b % 4],
						  kRenameFlags[(b >> 2) % 4]));
			break;
		}
		case 10:
		case 11:
			new_pair(si, op == 11);
			break;
		default:
			handle_step(op, si, in);
		}
	}

	void handle_step(unsigned op, int si, Reader &in)
	{
		Hnd &h = hnd_[in.next() % kHandles];
		char buf[256];

		if (op == 14 || op == 15) {
			if (h.h)
				hclose(h);
			int v;
			if (op == 14) {
				std::string p = path_ + "/" + kNames[si % 4];
				v = lu_handle_open(p.c_str(), kModes[in.next() % 8], &h.h);
			} else {
				const Slot &s = slot_[si];
				unsigned rw = in.next();
				bool rd = rw & 1, wr = rw & 2;
				// One handle per channel reader: a second one's reads could block.
				if (rd && s.in >= 0 && chan_[s.in].claimed)
					rd = false;
				v = lu_handle_from_fd(s.fd, rd, wr, (lu_buffering)((rw >> 2) % 4),
						      false, &h.h);
				if (v == 0) {
					h.fd = s.fd;
					h.in = rd ? s.in : -1;
					h.out = wr ? s.out : -1;
					if (h.in >= 0)
						chan_[h.in].claimed = true;
				}
			}
			r(op == 14 ? "hopen" : "hfromfd", v);
			if (v != 0)
				h = Hnd();
			return;
		}
		if (!h.h) {
			r("no-handle", 0);
			return;
		}
		if (h.stale && (op == 16 || op == 18)) {
			r("hread-stale", 0);
			return;
		}
		switch (op) {
		case 16: {
			long len = readable(h.in, in.next(), true);
			if (len < 0) {
				r("hread-skipped", 0);
				break;
			}
			ssize_t n = lu_handle_read(h.h, buf, (size_t)len);
			r("hread", n, n > 0 ? std::string(buf, (size_t)n) : "");
			consumed(h.in, n);
			r("heof", lu_handle_is_eof(h.h));
			break;
		}
		case 17: {
			size_t len = in.next();
			std::string d = data_for(in.next(), len);
			int v = lu_handle_write(h.h, d.data(), len);
			r("hwrite", v);
			if (v == 0 && h.out >= 0)
				h.unflushed += d;
			break;
		}
		case 18: {
			if (h.in >= 0) {
				flush_writers(h.in);
				const std::string &d = chan_[h.in].data;
				if (d.find('\n') == std::string::npos && writers(h.in)) {
					r("hgetline-skipped", 0);
					break;
				}
			}
			lu_line line;
			int v = lu_handle_get_line(h.h, &line);
			r("hgetline", v, line.data ? std::string(line.data, line.len) : "");
			if (h.in >= 0) {
				std::string &d = chan_[h.in].data;
				size_t nl = d.find('\n');
				d.erase(0, nl == std::string::npos ? d.size() : nl + 1);
			}
			free(line.data);
			r("heof", lu_handle_is_eof(h.h));
			break;
		}
		case 19:
			hflush(h);
			break;
		default:
			hclose(h);
		}
	}

	void hclose(Hnd &h)
	{
		int v = lu_handle_close(h.h);
		r("hclose", v);
		if (v == 0 && h.out >= 0)
			chan_[h.out].data += h.unflushed;
		h = Hnd();
	}

	// Whatever the channels still hold, then the tree, then nothing left behind.
	void finish()
	{
		for (Hnd &h : hnd_)
			if (h.h)
				hclose(h);
		for (Slot &s : slot_) {
			if (s.fd < 0 || s.in < 0)
				continue;
			char buf[4096];
			std::string rest;
			ssize_t n;
			fcntl(s.fd, F_SETFL, O_NONBLOCK);
			while ((n = read(s.fd, buf, sizeof buf)) > 0)
				rest.append(buf, (size_t)n);
			r("left", (long long)rest.size(), rest);
		}
		for (int i = 0; i < kSlots; i++)
			close_slot(i);
		lu_fuzz::tree(dirfd_, "", t_);
		close(dirfd_);
		lu_fuzz::remove_tree(path_, "fuzz_ops");
	}

	const LuOps &o_;
	std::string path_;
	int dirfd_ = -1;
	std::vector<std::string> t_;
	Slot slot_[kSlots];
	Hnd hnd_[kHandles];
	std::vector<Channel> chan_;
};

}  // namespace

extern "C" const LuOps *__wrap_lu_ops(void)
{
	return handle_ops ? handle_ops : __real_lu_ops();
}

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	int err = 0;
	bool ring = lu_driver_get(&err) != nullptr;
	base_dir = lu_fuzz::init("fuzz_ops", ring, err);
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// Counted here, not once at start: LeakSanitizer's checks between inputs may start the
	// symbolizer, whose pipes stay open.
	size_t fds_before = open_fds().size();
	Reader in{data, data + size};
	std::vector<std::string> u = Run(*uring_side, "uring").go(in);
	std::vector<std::string> p = Run(lu_posix_ops, "posix").go(in);
	handle_ops = nullptr;
	// LU_FUZZ_TRACE=1 shows what an input does (fuzz_ops FILE runs just that input).
	if (getenv("LU_FUZZ_TRACE"))
		for (const std::string &e : u)
			fprintf(stderr, "  %s\n", shown(e).c_str());
	if (u != p) {
		fprintf(stderr, "fuzz_ops: uring and posix differ\n");
		for (size_t i = 0; i < std::max(u.size(), p.size()); i++) {
			const std::string &a = i < u.size() ? u[i] : "<none>";
			const std::string &b = i < p.size() ? p[i] : "<none>";
			fprintf(stderr, "%s %3zu uring: %s\n", a == b ? " " : "!", i,
				shown(a).c_str());
			if (a != b)
				fprintf(stderr, "      posix: %s\n", shown(b).c_str());
		}
		abort();
	}
	std::vector<std::string> fds = open_fds();
	if (fds.size() != fds_before) {
		fprintf(stderr, "fuzz_ops: fds open after an input, %zu before:\n", fds_before);
		for (const std::string &f : fds)
			fprintf(stderr, "  %s\n", f.c_str());
		abort();
	}
	return 0;
}
