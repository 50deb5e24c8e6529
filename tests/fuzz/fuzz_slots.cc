// The differential fuzzer of the batch path (slots.h): libFuzzer's input is decoded into a short
// sequence of SQEs, run once on a table whose engine is this thread's io_uring and once on one
// whose engine is the POSIX emulation (emu.h), each made afresh (and released after the run)
// on a thread of its own that lives as long as the fuzzer, in a fresh scratch directory with
// fresh fds.  Per operation (keyed by its user_data) the results, the F_MORE and
// buffer structure of its CQEs and the bytes it read must be equal, and so must the byte stream
// of every channel, the -ENOBUFS count and the final tree with its contents; of a statx, the
// fields that are stable (size, and mode with the type).  Completion order is not compared:
// independent operations may legitimately complete in another order.  Nothing blocks for ever:
// a 2 s watchdog timeout, in flight during every run, ends a run that waits for a CQE that the
// model wrongly expects, and the final drain is bounded.
//
// Input: one byte for the buffer group (entries 1, 2 or 4; size 8 to 64), then operations, each
// an opcode byte followed by its argument bytes (missing bytes read as 0): openat, close, read,
// write, pread, pwrite, statx, mkdirat, unlinkat, renameat, splice file->pipe, splice
// pipe->file, send, recv, multishot recv, shutdown, timeout (0-2 ms), ASYNC_CANCEL of an
// earlier operation, and the synchronous path's pread, pwrite, send and recv (ops.h) between
// them, while batch operations are in flight on the same ring.  At most 32 operations per
// input.  Files live in 4 fd slots (empty slots are fd -1); every run has one pipe and one TCP
// loopback pair, whose two directions are the channels.
//
// What is excluded, or normalised, because its outcome depends on timing:
//  - file, directory, open/close/statx and splice operations are each awaited alone: the
//    kernel may run them on io-wq workers, in another order than submitted (emu.h);
//  - a channel has at most one reader in flight (a recv or a multishot recv), and every send
//    or shutdown is awaited, then that reader until it has taken what the channel holds: which
//    recv gets which bytes, and how many, then depends on nothing but the order of the input.
//    A recv runs on a channel that the model knows holds bytes (it takes at most its len of
//    them), or waits on an empty one (cancelled at the end if nothing came).  TCP_NODELAY, and sends of at most 255 bytes (one
//    loopback segment), so that a send has arrived when it completes;
//  - a cancel of a timeout races with its expiry: either the cancel finds it (0, the timeout
//    -ECANCELED) or it does not (-ENOENT or -EALREADY, the timeout -ETIME); such a pair is
//    recorded as "found or missed", and only a pair that fits neither by its raw values;
//  - IORING_CQE_F_SOCK_NONEMPTY of a multishot's F_MORE CQEs, a difference emu.h lists (the
//    final CQE's flag is compared: crashes-slots/multishot-eof-sock-nonempty, once a finding,
//    ends a multishot recv at end of file);
//  - splices into the pipe are limited so that its 16 buffers never fill, and the pipe is never
//    read from when it is empty.
//
// Built with -DLU_FUZZ_PLANTED_BUG, the emulated side's pwrite drops the last byte of a write
// of more than 100 bytes: the check that the harness finds such a bug (tests/fuzz/run.sh).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fuzz_common.h"

extern "C" {
#include "driver.h"
#include "ops.h"
#include "pbuf.h"
#include "slots.h"
}

namespace {

using lu_fuzz::Reader;
using lu_fuzz::open_fds;
using lu_fuzz::shown;

constexpr int kFiles = 4, kMaxOps = 32;
constexpr uint16_t kGroup = 1;
constexpr uint64_t kWatchdog = 1ull << 40, kWatchdogCancel = kWatchdog + 1;
constexpr unsigned kPipeBufs = 16;
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
const unsigned kRenameFlags[] = {0, RENAME_NOREPLACE, RENAME_EXCHANGE, 1u << 30};
const int kStatxFlags[] = {0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, AT_STATX_DONT_SYNC};

std::string base_dir;

// An empty one's data() may be NULL, which the kernel and emu.c take with a length of 0.
std::vector<char> sqe_buffer(const std::string &d)
{
	return std::vector<char>(d.begin(), d.end());
}

std::string data_for(unsigned seed, size_t len)
{
	std::string s(len, '\0');
	for (size_t i = 0; i < len; i++)
		s[i] = (seed & 1) && i % 29 == 5 ? '\0' : (char)('A' + (seed * 7 + i) % 58);
	return s;
}

// A thread that runs one job at a time for the caller: a thread per input would cost more
// than the input (a ring, and the sanitizers' per-thread setup).  Its ring stays between runs.
class Worker {
public:
	Worker() : th_([this] { loop(); }) {}

	void run(const std::function<void()> &job)
	{
		std::unique_lock<std::mutex> l(m_);
		job_ = &job;
		cv_.notify_all();
		cv_.wait(l, [this] { return !job_; });
	}

private:
	void loop()
	{
		std::unique_lock<std::mutex> l(m_);
		for (;;) {
			cv_.wait(l, [this] { return job_; });
			(*job_)();
			job_ = nullptr;
			cv_.notify_all();
		}
	}

	std::mutex m_;
	std::condition_variable cv_;
	const std::function<void()> *job_ = nullptr;
	std::thread th_;
};

// Made once, never destroyed: they outlive every input, and the process ends with them.
Worker *ring_worker, *emu_worker;

enum Kind { K_READ, K_STATX, K_MULTISHOT, K_TIMEOUT, K_CANCEL, K_OTHER };

// One submitted operation: its memory stays here, alive until the run ends.
struct Op {
	std::string what;
	Kind kind = K_OTHER;
	int chan = -1;              // the channel a recv or multishot recv reads
	int sends = -1;             // the channel a send writes
	bool done = false;          // its final CQE was delivered
	bool raced = false;         // a timeout that a cancel raced with
	std::vector<char> buf;
	struct statx stx;
	std::vector<int32_t> res;
	std::vector<std::string> events;
};

// One direction of the TCP pair: written at end `chan`, read at the other.
// Counted as it is delivered, in whatever order the send's and the reader's CQEs come.
struct Channel {
	std::string sent;
	std::string got;       // everything read from it, in order
	bool eof = false;      // its writer shut down
	int reader = -1;       // the op reading it, while in flight
	bool pending() const { return sent.size() > got.size(); }
};

class Run {
public:
	Run(lu_slots_engine engine, const char *sub) : engine_(engine), path_(base_dir + "/" + sub) {}

	std::vector<std::string> go(Worker &w, Reader in)
	{
		w.run([&] { body(in); });
		return std::move(t_);
	}

private:
	static void release(void *) {}

	void body(Reader in)
	{
		int err = 0;
		t_ = {};
		t = lu_slots_get(release, engine_, &err);
		if (!t || lu_slots_engine_of(t) != engine_ || mkdir(path_.c_str(), 0700) != 0 ||
		    (dirfd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    pipe2(pipe_, O_CLOEXEC) != 0 || !tcp_pair()) {
			fprintf(stderr, "fuzz_slots: cannot set up a run (%d, %s)\n", err,
				strerror(errno));
			abort();
		}
		// Ops are never moved: a statx writes into its Op while in flight.
		ops_.reserve(2 * kMaxOps);
		unsigned g = in.next();
		int v = lu_pbuf_new(t, kGroup, 1u << (g % 3), 8u << ((g >> 2) % 4), &pbuf_);
		r("pbuf_new " + std::to_string(v));
		io_uring_sqe wd = sqe(IORING_OP_TIMEOUT, -1);
		submit(wd, kWatchdog, [](union lu_slot_scratch *s, io_uring_sqe &q) {
			s->ts.tv_sec = 2;
			q.addr = (uintptr_t)&s->ts;
			q.len = 1;
		});
		for (int n = 0; n < kMaxOps && in.more(); n++)
			step(in);
		finish();
		lu_slots_release();
	}

	void r(const std::string &s) { t_.push_back(s); }

	bool tcp_pair()
	{
		int l = lu_listen_loopback(&lu_posix_ops, 0);
		union lu_sockaddr a;
		if (l < 0 || lu_sock_name(l, false, &a) < 0)
			return false;
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok = c >= 0 && connect(c, &a.sa, sizeof a.sin) == 0;
		int s = ok ? accept4(l, nullptr, nullptr, SOCK_CLOEXEC) : -1;
		close(l);
		end_[0] = c;
		end_[1] = s;
		// Closed with a reset: thousands of runs must not leave thousands of TIME_WAITs.
		struct linger lg = {1, 0};
		int one = 1;
		for (int fd : end_)
			if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0 ||
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0))
				ok = false;
		return ok && s >= 0;
	}

	static io_uring_sqe sqe(unsigned opcode, int fd)
	{
		io_uring_sqe q{};
		q.opcode = (uint8_t)opcode;
		q.fd = fd;
		return q;
	}

	Op &add(const std::string &what, Kind kind)
	{
		ops_.emplace_back();
		ops_.back().what = what;
		ops_.back().kind = kind;
		return ops_.back();
	}

	uint64_t ud_of(const Op &o) const { return (uint64_t)(&o - ops_.data()) + 1; }

	template <typename Fill> void submit(io_uring_sqe q, uint64_t ud, Fill fill, unsigned fl = 0)
	{
		int slot = lu_slots_prepare(t, ud, 0, fl);
		if (slot < 0) {
			fprintf(stderr, "fuzz_slots: no slot (%d)\n", slot);
			abort();
		}
		fill(lu_slots_scratch(t, slot), q);
		int v = lu_slots_submit(t, slot, &q);
		if (v != 0) {
			fprintf(stderr, "fuzz_slots: submit failed (%d)\n", v);
			abort();
		}
	}

	void submit(Op &o, io_uring_sqe q, unsigned fl = 0)
	{
		submit(q, ud_of(o), [](union lu_slot_scratch *, io_uring_sqe &) {}, fl);
	}

	static void on_cqe(void *ctx, const lu_slot_cqe *c) { static_cast<Run *>(ctx)->cqe(*c); }

	void cqe(const lu_slot_cqe &c)
	{
		if (c.user_data == kWatchdog) {
			if (c.res != -ECANCELED) {
				fprintf(stderr, "fuzz_slots: %s: an operation never completed:\n",
					engine_ == LU_SLOTS_RING ? "ring" : "emulation");
				for (const Op &o : ops_)
					if (!o.done)
						fprintf(stderr, "  %s\n", o.what.c_str());
				abort();
			}
			return;
		}
		if (c.user_data == kWatchdogCancel)
			return;
		Op &o = ops_[c.user_data - 1];
		bool more = c.flags & IORING_CQE_F_MORE;
		uint32_t flags = c.flags & (IORING_CQE_F_MORE | IORING_CQE_F_BUFFER |
					    (more ? 0 : IORING_CQE_F_SOCK_NONEMPTY));
		std::string e = "res=" + std::to_string(c.res) + " flags=" + std::to_string(flags);
		std::string bytes;
		if (c.flags & IORING_CQE_F_BUFFER) {
			unsigned bid = lu_pbuf_id(c.flags);
			if (c.res > 0)
				bytes.assign((const char *)lu_pbuf_buf(pbuf_, bid), (size_t)c.res);
			lu_pbuf_recycle(pbuf_, bid);
			e += " bid=" + std::to_string(bid);
		} else if (o.kind == K_READ && c.res > 0) {
			bytes.assign(o.buf.data(), std::min((size_t)c.res, o.buf.size()));
		}
		if (o.kind == K_STATX && c.res == 0)
			e += " size=" + std::to_string(o.stx.stx_size) +
			     " mode=" + std::to_string(o.stx.stx_mode);
		if (o.chan >= 0)
			chan_[o.chan].got += bytes;
		if (o.sends >= 0 && c.res > 0)
			chan_[o.sends].sent.append(o.buf.data(), std::min((size_t)c.res, o.buf.size()));
		if (!bytes.empty())
			e += " [" + bytes + "]";
		o.res.push_back(c.res);
		o.events.push_back(e);
		if (!more) {
			o.done = true;
			if (o.chan >= 0 && chan_[o.chan].reader == (int)ud_of(o) - 1)
				chan_[o.chan].reader = -1;
			if (o.kind == K_MULTISHOT && c.res == -ENOBUFS)
				enobufs_++;
		}
	}

	void wait_one()
	{
		if (lu_slots_wait(t, true, on_cqe, this) < 0) {
			fprintf(stderr, "fuzz_slots: lu_slots_wait failed\n");
			abort();
		}
	}

	void await(const Op &o)
	{
		while (!o.done)
			wait_one();
	}

	// The channel's reader, until it has taken what the channel holds (or has ended).
	void settle(int c)
	{
		Channel &ch = chan_[c];
		while (ch.reader >= 0 && (ch.pending() || ch.eof))
			wait_one();
	}

	int file(unsigned b) const { return file_[b % kFiles]; }

	void step(Reader &in)
	{
		unsigned op = in.next() % 20, a = in.next();
		switch (op) {
		case 0: {
			int fi = a % kFiles, fl = kFlags[in.next() % 8] | O_CLOEXEC;
			const char *name = kNames[in.next() % 4];
			close_file(fi);
			Op &o = add("openat " + std::string(name) + " " + std::to_string(fl), K_OTHER);
			io_uring_sqe q = sqe(IORING_OP_OPENAT, dirfd_);
			q.addr = (uintptr_t)name;
			q.len = 0644;
			q.open_flags = (uint32_t)fl;
			submit(o, q, LU_SLOT_FD_RESULT);
			await(o);
			if (o.res.back() >= 0)
				file_[fi] = o.res.back();
			o.res.back() = o.res.back() >= 0 ? 0 : o.res.back();
			o.events.back() = "res=" + std::to_string(o.res.back());
			break;
		}
		case 1:
			close_file(a % kFiles);
			break;
		case 2:
		case 4: {
			unsigned len = in.next(), ob = op == 4 ? in.next() : 255;
			Op &o = add((op == 2 ? "read " : "pread ") + std::to_string(len) + " " +
					    std::to_string(ob), K_READ);
			o.buf.assign(std::max(len, 1u), '\0');
			io_uring_sqe q = sqe(IORING_OP_READ, file(a));
			q.addr = (uintptr_t)o.buf.data();
			q.len = len;
			q.off = ob == 255 ? (uint64_t)-1 : ob * 2;
			submit(o, q);
			await(o);
			break;
		}
		case 3:
		case 5: {
			unsigned len = in.next(), seed = in.next(), ob = op == 5 ? in.next() : 255;
			Op &o = add((op == 3 ? "write " : "pwrite ") + std::to_string(len) + " " +
					    std::to_string(ob), K_OTHER);
			o.buf = sqe_buffer(data_for(seed, len));
			io_uring_sqe q = sqe(IORING_OP_WRITE, file(a));
			q.addr = (uintptr_t)o.buf.data();
			q.len = len;
			q.off = ob == 255 ? (uint64_t)-1 : ob * 2;
#ifdef LU_FUZZ_PLANTED_BUG
			if (engine_ == LU_SLOTS_EMULATED && op == 5 && len > 100)
				q.len--;
#endif
			submit(o, q);
			await(o);
			break;
		}
		case 6: {
			unsigned b = in.next();
			int fl = kStatxFlags[b % 4];
			bool empty = fl == AT_EMPTY_PATH;
			const char *name = empty ? "" : kNames[a % 4];
			Op &o = add("statx " + std::string(name) + " " + std::to_string(fl), K_STATX);
			io_uring_sqe q = sqe(IORING_OP_STATX, empty ? file(a) : dirfd_);
			q.addr = (uintptr_t)name;
			q.len = STATX_BASIC_STATS;
			q.statx_flags = (uint32_t)fl;
			q.addr2 = (uintptr_t)&o.stx;
			submit(o, q);
			await(o);
			break;
		}
		case 7:
		case 8: {
			const char *name = kNames[a % 4];
			Op &o = add((op == 7 ? "mkdirat " : "unlinkat ") + std::string(name) + " " +
					    std::to_string(a & 4), K_OTHER);
			io_uring_sqe q = sqe(op == 7 ? IORING_OP_MKDIRAT : IORING_OP_UNLINKAT, dirfd_);
			q.addr = (uintptr_t)name;
			if (op == 7)
				q.len = 0755;
			else
				q.unlink_flags = a & 4 ? AT_REMOVEDIR : 0;
			submit(o, q);
			await(o);
			break;
		}
		case 9: {
			unsigned b = in.next();
			Op &o = add("renameat " + std::string(kNames[a % 4]) + " " + kNames[b % 4] +
					    " " + std::to_string(kRenameFlags[(b >> 2) % 4]), K_OTHER);
			io_uring_sqe q = sqe(IORING_OP_RENAMEAT, dirfd_);
			q.addr = (uintptr_t)kNames[a % 4];
			q.len = (uint32_t)dirfd_;
			q.addr2 = (uintptr_t)kNames[b % 4];
			q.rename_flags = kRenameFlags[(b >> 2) % 4];
			submit(o, q);
			await(o);
			break;
		}
		case 10:
		case 11:
			splice_step(op == 10, a, in);
			break;
		case 12: {
			int s = a & 1;
			unsigned len = in.next(), seed = in.next();
			Op &o = add("send " + std::to_string(s) + " " + std::to_string(len), K_OTHER);
			o.buf = sqe_buffer(data_for(seed, len));
			o.sends = s;
			io_uring_sqe q = sqe(IORING_OP_SEND, end_[s]);
			q.addr = (uintptr_t)o.buf.data();
			q.len = len;
			q.msg_flags = MSG_NOSIGNAL;
			submit(o, q);
			await(o);
			settle(s);
			break;
		}
		case 13: {
			int c = 1 - (a & 1);
			bool dontwait = a & 2;
			unsigned len = in.next();
			Channel &ch = chan_[c];
			if (ch.reader >= 0) {
				add("recv-skipped", K_OTHER).done = true;
				break;
			}
			Op &o = add("recv " + std::to_string(c) + " " + std::to_string(len) +
					    (dontwait ? " dontwait" : ""), K_READ);
			o.chan = c;
			o.buf.assign(std::max(len, 1u), '\0');
			io_uring_sqe q = sqe(IORING_OP_RECV, end_[1 - c]);
			q.addr = (uintptr_t)o.buf.data();
			q.len = len;
			q.msg_flags = dontwait ? MSG_DONTWAIT : 0;
			ch.reader = (int)ops_.size() - 1;
			submit(o, q);
			if (dontwait || ch.pending() || ch.eof)
				await(o);
			break;
		}
		case 14: {
			int c = 1 - (a & 1);
			Channel &ch = chan_[c];
			if (ch.reader >= 0 || !pbuf_) {
				add("multishot-skipped", K_OTHER).done = true;
				break;
			}
			Op &o = add("multishot " + std::to_string(c), K_MULTISHOT);
			o.chan = c;
			ch.reader = (int)ops_.size() - 1;
			submit(o, lu_sqe_recv_multishot(end_[1 - c], kGroup, 0));
			settle(c);
			break;
		}
		case 15: {
			int s = a & 1;
			Op &o = add("shutdown " + std::to_string(s), K_OTHER);
			io_uring_sqe q = sqe(IORING_OP_SHUTDOWN, end_[s]);
			q.len = SHUT_WR;
			submit(o, q);
			await(o);
			if (o.res.back() == 0)
				chan_[s].eof = true;
			settle(s);
			break;
		}
		case 16: {
			long ns = (long)(a % 21) * 100000;
			Op &o = add("timeout " + std::to_string(ns), K_TIMEOUT);
			submit(sqe(IORING_OP_TIMEOUT, -1), ud_of(o),
			       [ns](union lu_slot_scratch *s, io_uring_sqe &q) {
				       s->ts.tv_sec = 0;
				       s->ts.tv_nsec = ns;
				       q.addr = (uintptr_t)&s->ts;
				       q.len = 1;
			       });
			break;
		}
		case 18:
			sync_file_step(a, in);
			break;
		case 19:
			sync_channel_step(a, in);
			break;
		default:
			cancel_step(a);
		}
	}

	// The synchronous path of the same side (ops.h), between batch operations: on the ring
	// side it waits on the very ring whose CQEs the table's operations (an armed multishot
	// recv, a pending timeout) may bring meanwhile, which the driver must keep for the table.
	const struct lu_ops &sync_ops() const
	{
		return engine_ == LU_SLOTS_RING ? lu_uring_ops : lu_posix_ops;
	}

	// What the table has queued goes to its engine first: the ring's synchronous path would
	// submit it along with its own SQE, while the posix path leaves it queued, to start only
	// after the synchronous operation (a multishot recv would then see other bytes).
	void sync_begin()
	{
		if (lu_slots_wait(t, false, on_cqe, this) < 0) {
			fprintf(stderr, "fuzz_slots: lu_slots_wait failed\n");
			abort();
		}
	}

	Op &sync_done(const std::string &what, ssize_t v, const std::string &bytes)
	{
		Op &o = add(what, K_OTHER);
		o.done = true;
		o.res.push_back((int32_t)v);
		o.events.push_back("res=" + std::to_string(o.res.back()) +
				   (bytes.empty() ? "" : " [" + bytes + "]"));
		return o;
	}

	void sync_file_step(unsigned a, Reader &in)
	{
		unsigned len = in.next(), seed = in.next(), off = in.next() * 2u;
		sync_begin();
		if (a & 4) {
			std::string d = data_for(seed, len);
			sync_done("sync pwrite " + std::to_string(len) + " " + std::to_string(off),
				  sync_ops().pwrite(file(a), d.data(), len, off), "");
			return;
		}
		std::vector<char> buf(std::max(len, 1u));
		ssize_t v = sync_ops().pread(file(a), buf.data(), len, off);
		sync_done("sync pread " + std::to_string(len) + " " + std::to_string(off), v,
			  v > 0 ? std::string(buf.data(), (size_t)v) : "");
	}

	// A send at end `a & 1`, or a recv of what the other channel holds when no batch reader
	// is on it (a recv of an empty channel would block for ever).
	void sync_channel_step(unsigned a, Reader &in)
	{
		unsigned len = in.next(), seed = in.next();
		sync_begin();
		if (a & 2) {
			int s = a & 1;
			std::string d = data_for(seed, len);
			ssize_t v = sync_ops().send(end_[s], d.data(), len, MSG_NOSIGNAL);
			sync_done("sync send " + std::to_string(s) + " " + std::to_string(len), v, "");
			if (v > 0)
				chan_[s].sent.append(d.data(), (size_t)v);
			settle(s);
			return;
		}
		int c = 1 - (a & 1);
		Channel &ch = chan_[c];
		if (ch.reader >= 0 || !ch.pending()) {
			add("sync-recv-skipped", K_OTHER).done = true;
			return;
		}
		size_t want = std::min((size_t)std::max(len, 1u), ch.sent.size() - ch.got.size());
		std::vector<char> buf(want);
		ssize_t v = sync_ops().recv(end_[1 - c], buf.data(), want, 0);
		std::string got = v > 0 ? std::string(buf.data(), (size_t)v) : "";
		sync_done("sync recv " + std::to_string(c) + " " + std::to_string(want), v, got);
		ch.got += got;
	}

	void close_file(int fi)
	{
		if (file_[fi] < 0)
			return;
		Op &o = add("close", K_OTHER);
		submit(o, sqe(IORING_OP_CLOSE, file_[fi]));
		file_[fi] = -1;
		await(o);
	}

	void splice_step(bool into_pipe, unsigned a, Reader &in)
	{
		unsigned len = in.next(), ob = in.next();
		int64_t off = ob == 255 ? -1 : (int64_t)ob * 2;
		if (into_pipe ? pipe_bufs_ + 2 > kPipeBufs : pipe_bytes_ == 0) {
			add("splice-skipped", K_OTHER).done = true;
			return;
		}
		if (!into_pipe)
			len = std::min((size_t)len, pipe_bytes_);
		Op &o = add(std::string(into_pipe ? "splice-in " : "splice-out ") +
				    std::to_string(len) + " " + std::to_string(off), K_OTHER);
		io_uring_sqe q = sqe(IORING_OP_SPLICE, into_pipe ? pipe_[1] : file(a));
		q.splice_fd_in = into_pipe ? file(a) : pipe_[0];
		q.splice_off_in = (uint64_t)(into_pipe ? off : -1);
		q.off = (uint64_t)(into_pipe ? -1 : off);
		q.len = len;
		submit(o, q);
		await(o);
		int v = o.res.back();
		if (v > 0 && into_pipe) {
			pipe_bytes_ += (size_t)v;
			pipe_bufs_ += 2;
		} else if (v > 0) {
			pipe_bytes_ -= std::min((size_t)v, pipe_bytes_);
			if (pipe_bytes_ == 0)
				pipe_bufs_ = 0;
		}
	}

	void cancel_step(unsigned a)
	{
		size_t ti = ops_.empty() ? 0 : a % (ops_.size() + 1);
		bool known = ti < ops_.size();
		Op &o = add("cancel " + std::to_string(ti), K_CANCEL);
		uint64_t target = ti + 1;
		if (lu_slots_cancel(t, target, ud_of(o)) != 0) {
			fprintf(stderr, "fuzz_slots: lu_slots_cancel failed\n");
			abort();
		}
		await(o);
		if (!known)
			return;
		Op &tg = ops_[ti];
		await(tg);
		if (tg.kind != K_TIMEOUT || tg.raced)
			return;
		int c = o.res.back(), v = tg.res.back();
		bool found = c == 0 && v == -ECANCELED;
		bool missed = (c == -ENOENT || c == -EALREADY) && v == -ETIME;
		if (found || missed) {
			tg.raced = true;
			o.events.back() = "cancel of a timeout: found or missed";
		}
	}

	// Cancel what waits, drain with a bound, then compare what is left and the tree.
	void finish()
	{
		for (size_t i = 0; i < ops_.size(); i++)
			if (!ops_[i].done && ops_[i].kind != K_TIMEOUT)
				lu_slots_cancel(t, i + 1, kWatchdogCancel);
		for (size_t i = 0; i < ops_.size(); i++)
			while (!ops_[i].done)
				wait_one();
		lu_slots_cancel(t, kWatchdog, kWatchdogCancel);
		for (int n = 0; lu_slots_inflight(t) > 0; n++) {
			if (n > 1000) {
				fprintf(stderr, "fuzz_slots: still %u in flight\n", lu_slots_inflight(t));
				abort();
			}
			wait_one();
		}
		if (pbuf_)
			lu_pbuf_free(pbuf_);
		for (size_t i = 0; i < ops_.size(); i++) {
			Op &o = ops_[i];
			std::string s = std::to_string(i + 1) + " " + o.what + ":";
			for (const std::string &e : o.events)
				s += " {" + (o.raced ? std::string("timeout ended") : e) + "}";
			r(s);
		}
		for (int c = 0; c < 2; c++) {
			std::string rest = drain(end_[1 - c]);
			r("channel " + std::to_string(c) + " got [" + chan_[c].got + "] left [" + rest +
			  "]");
		}
		r("pipe left [" + drain(pipe_[0]) + "]");
		r("enobufs " + std::to_string(enobufs_));
		for (int fd : file_)
			if (fd >= 0)
				close(fd);
		for (int fd : {end_[0], end_[1], pipe_[0], pipe_[1]})
			close(fd);
		lu_fuzz::tree(dirfd_, "", t_);
		close(dirfd_);
		lu_fuzz::remove_tree(path_, "fuzz_slots");
	}

	static std::string drain(int fd)
	{
		std::string rest;
		char buf[4096];
		ssize_t n;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		while ((n = read(fd, buf, sizeof buf)) > 0)
			rest.append(buf, (size_t)n);
		return rest;
	}

	lu_slots_engine engine_;
	std::string path_;
	lu_slots *t = nullptr;
	lu_pbuf *pbuf_ = nullptr;
	int dirfd_ = -1, pipe_[2] = {-1, -1}, end_[2] = {-1, -1};
	int file_[kFiles] = {-1, -1, -1, -1};
	size_t pipe_bytes_ = 0;
	unsigned pipe_bufs_ = 0, enobufs_ = 0;
	Channel chan_[2];
	std::vector<Op> ops_;
	std::vector<std::string> t_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	int err = 0;
	bool ring = lu_driver_get(&err) != nullptr;
	base_dir = lu_fuzz::init("fuzz_slots", ring, err);
	ring_worker = new Worker;
	emu_worker = new Worker;
	// The ring worker's ring is made now, not counted as a leak of the first input.
	Run(LU_SLOTS_RING, "ring").go(*ring_worker, Reader{nullptr, nullptr});
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t fds_before = open_fds().size();
	Reader in{data, data + size};
	std::vector<std::string> u = Run(LU_SLOTS_RING, "ring").go(*ring_worker, in);
	std::vector<std::string> p = Run(LU_SLOTS_EMULATED, "emu").go(*emu_worker, in);
	// LU_FUZZ_TRACE=1 shows what an input does (fuzz_slots FILE runs just that input).
	if (getenv("LU_FUZZ_TRACE"))
		for (const std::string &e : u)
			fprintf(stderr, "  %s\n", shown(e).c_str());
	if (u != p) {
		fprintf(stderr, "fuzz_slots: ring and emulation differ\n");
		for (size_t i = 0; i < std::max(u.size(), p.size()); i++) {
			const std::string &a = i < u.size() ? u[i] : "<none>";
			const std::string &b = i < p.size() ? p[i] : "<none>";
			fprintf(stderr, "%s %3zu ring: %s\n", a == b ? " " : "!", i, shown(a).c_str());
			if (a != b)
				fprintf(stderr, "        emu: %s\n", shown(b).c_str());
		}
		abort();
	}
	std::vector<std::string> fds = open_fds();
	if (fds.size() != fds_before) {
		fprintf(stderr, "fuzz_slots: fds open after an input, %zu before:\n", fds_before);
		for (const std::string &f : fds)
			fprintf(stderr, "  %s\n", f.c_str());
		abort();
	}
	return 0;
}
