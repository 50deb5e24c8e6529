/*
 * emu.c - the ring emulated by syscalls and poll(2); see emu.h for what it promises.
 *
 * An operation is one heap object that moves between three lists: the queue (submitted, not
 * yet run), the waiting list (it needs its fd's readiness) and the timers, and ends as a CQE
 * in the done list, which reap delivers.  Every list holds at most the number of operations in
 * flight, so submit reserves room in all of them for one more: running an operation and
 * completing it never allocate, and no CQE can be lost to a failed allocation.  Only the
 * fd-to-pollfd map, sized by the largest fd waited on, grows during a reap.
 *
 * A multishot operation (accept, recv from a buffer group) posts its F_MORE CQEs itself as it
 * runs and stays waiting; only those CQEs may need the done list to grow during a reap, and
 * when it cannot, the operation simply waits for its next turn with nothing consumed.
 *
 * run() is each operation's next step: its result (>= 0 or -errno), or WAIT with the fd and
 * event it waits for recorded in the operation.  It is called once when the operation leaves
 * the queue and again whenever poll(2) says that fd may have changed, so it must treat any
 * call as a fresh attempt that may find the fd not ready after all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"

#define NS_PER_S 1000000000LL
/* No result is this negative: run()'s "not yet, wait for o->wait_fd". */
#define WAIT INT_MIN
/* The kernel's SPLICE_F_ALL, which it does not export (as in fileops.c). */
#define SPLICE_ALL (SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT)
#define CUR_POS UINT64_MAX
/* CQEs a multishot operation posts in one turn before the others get theirs (the kernel's
 * MULTISHOT_MAX_RETRY). */
#define MULTISHOT_TURN 32

struct op {
	struct io_uring_sqe sqe;     /* the caller's, copied; off may become CUR_POS (ESPIPE) */
	uint64_t seq;                /* submission order: ties between equal deadlines */
	int64_t deadline;            /* a timer's, CLOCK_MONOTONIC ns */
	uint32_t done;               /* bytes moved by earlier tries (MSG_WAITALL) */
	uint32_t cflags;             /* the CQE's flags */
	int wait_fd;
	short wait_events;
	unsigned pidx;               /* its fd's pollfd during a poll pass */
	/* What earlier run()s learned about the fds, so that a retry does not ask again. */
	bool started;
	bool stream;                 /* read/write: an fd that may wait (ops.h) */
	bool fifo;
	bool no_nowait;              /* the fd refuses RWF_NOWAIT: poll, then the plain syscall */
	bool at_once;                /* accept: not a listening socket, accept4 fails at once */
	bool connecting;             /* connect said EINPROGRESS: the outcome is SO_ERROR */
	bool nb_final;               /* splice: the kernel's splice would not wait, nor do we */
	bool poll_in, poll_out;      /* splice: a socket or tty end, which splice(2) blocks on */
	bool pipe_in, pipe_out;
};

/* A provided-buffer ring (pbuf.h): `head` is the engine's, private as in the kernel. */
struct group {
	struct io_uring_buf_ring *br;
	unsigned entries;
	uint16_t bgid;
	uint16_t head;
};

struct lu_emu {
	struct op **queue;           /* [qhead, qlen): submitted, in order */
	struct op **waiting;         /* in the order they began to wait */
	struct op **timers;
	struct op **expired;         /* timers being sorted by deadline */
	struct io_uring_cqe *done;   /* [dhead, ndone): ended, not yet delivered */
	struct pollfd *pfds;
	unsigned cap;                /* of each array above but done */
	unsigned done_cap;           /* at least inflight + nmore */
	unsigned qhead, qlen, nwaiting, ntimers, dhead, ndone;
	unsigned inflight;
	unsigned nmore;              /* F_MORE CQEs posted, not yet delivered */
	struct group *groups;
	unsigned ngroups;
	uint64_t seq;
	int *fd_map;                 /* fd -> its pollfd index, -1 outside a poll pass */
	unsigned fd_map_len;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Whether `fd` has one of `events` now (or an error or hangup, which the syscall reports). */
static bool ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 && (p.revents & (events | POLLERR | POLLHUP | POLLNVAL));
}

static int wait_for(struct op *o, int fd, short events)
{
	o->wait_fd = fd;
	o->wait_events = events;
	return WAIT;
}

/* ---- the operations ---- */

/*
 * read/write at o's offset: CUR_POS (-1) is the fd's position, as read(2)/write(2).  The ring
 * ignores the offset of an unseekable file (a pipe, a socket) where pread(2) fails with
 * ESPIPE, so that failure, which happens before any byte moves, is retried at the position.
 */
static int transfer(struct op *o, bool write, struct iovec *iov, int flags)
{
	for (;;) {
		off_t off = (off_t)o->sqe.off;
		ssize_t r = write ? pwritev2(o->sqe.fd, iov, 1, off, flags)
				  : preadv2(o->sqe.fd, iov, 1, off, flags);
		if (r >= 0)
			return (int)r;
		if (errno == ESPIPE && o->sqe.off != CUR_POS)
			o->sqe.off = CUR_POS;
		else if (errno != EINTR)
			return -errno;
	}
}

/*
 * The ring waits for a stream fd whatever its O_NONBLOCK flag says (it would only matter to
 * the syscall), so a file's class is taken from its mode alone: lu_fd_class_of(mode, 0).
 */
static int rw(struct op *o, bool write)
{
	struct iovec iov = { (void *)(uintptr_t)o->sqe.addr, o->sqe.len };
	int flags = (int)o->sqe.rw_flags;
	short ev = write ? POLLOUT : POLLIN;

	if (!o->started) {
		struct stat st;
		if (fstat(o->sqe.fd, &st) < 0)
			return -errno;
		o->started = true;
		o->stream = lu_fd_class_of(st.st_mode, 0) == LU_FD_STREAM;
		o->fifo = S_ISFIFO(st.st_mode);
	}
	if (!o->stream)
		return transfer(o, write, &iov, flags);
	if (!o->no_nowait) {
		int r = transfer(o, write, &iov, flags | RWF_NOWAIT);
		if (flags & RWF_NOWAIT)
			return r;  /* the caller's own: -EAGAIN and -EOPNOTSUPP are its results */
		if (r == -EAGAIN)
			return wait_for(o, o->sqe.fd, ev);
		if (r != -EOPNOTSUPP)
			return r;
		o->no_nowait = true;
	}
	/* No FMODE_NOWAIT (FIFOs, ttys, pipes that splice(2) touched): ready, then the syscall. */
	if (!ready(o->sqe.fd, ev))
		return wait_for(o, o->sqe.fd, ev);
	if (write && o->fifo && iov.iov_len > PIPE_BUF)
		iov.iov_len = PIPE_BUF;  /* POLLOUT promises room for this much, not for more */
	int r = transfer(o, write, &iov, flags);
	return r == -EAGAIN ? wait_for(o, o->sqe.fd, ev) : r;
}

static bool stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       (type == SOCK_STREAM || type == SOCK_SEQPACKET);
}

/*
 * IORING_CQE_F_SOCK_NONEMPTY after a recv, as Linux 6.18 sets it from the protocol's hint: a
 * stream socket reports what is left to read, and TCP reports 1 once the peer's FIN is in, so
 * that a reader comes back for the end of file; a datagram socket reports nothing.
 */
static uint32_t recv_nonempty(int fd)
{
	int type = 0, proto = 0, inq = 0;
	socklen_t len = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return 0;
	if (ioctl(fd, FIONREAD, &inq) == 0 && inq > 0)
		return IORING_CQE_F_SOCK_NONEMPTY;
	len = sizeof proto;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == IPPROTO_TCP &&
	    ready(fd, POLLRDHUP))
		return IORING_CQE_F_SOCK_NONEMPTY;
	return 0;
}

/*
 * recv/send: one non-blocking try; -EAGAIN waits unless the caller asked for MSG_DONTWAIT.
 * MSG_WAITALL on a stream socket keeps waiting until the whole length has moved, counting
 * what earlier tries moved, as the kernel's io_recv/io_send do.  The kernel always adds
 * MSG_NOSIGNAL to a send (EPIPE, never SIGPIPE).
 */
static int sendrecv(struct op *o, bool sending)
{
	int fd = o->sqe.fd, flags = (int)o->sqe.msg_flags;
	/* (integer arithmetic: a zero-length recv may name no buffer at all) */
	char *buf = (char *)(uintptr_t)(o->sqe.addr + o->done);
	size_t len = o->sqe.len - o->done;
	short ev = sending ? POLLOUT : POLLIN;
	ssize_t r;

	do
		r = sending ? send(fd, buf, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL)
			    : recv(fd, buf, len, flags | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	int err = r < 0 ? errno : 0;
	if ((err == EAGAIN || err == EWOULDBLOCK) && !(flags & MSG_DONTWAIT))
		return wait_for(o, fd, ev);
	if (r > 0 && (size_t)r < len && (flags & MSG_WAITALL) && stream_socket(fd)) {
		o->done += (uint32_t)r;
		return wait_for(o, fd, ev);
	}
	int res = r > 0 ? (int)(r + o->done) : o->done ? (int)o->done : -err;
	if (!sending && res >= 0)
		o->cflags |= recv_nonempty(fd);
	return res;
}

/*
 * accept has no non-blocking form short of the socket's O_NONBLOCK, which is not ours to
 * change: so poll, then accept4.  A socket that is not listening (or not a socket) fails at
 * once, as with the ring, instead of waiting for a connection that cannot come.
 */
static int accept_op(struct op *o)
{
	int fd = o->sqe.fd, flags = (int)o->sqe.accept_flags;

	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK) || o->sqe.ioprio & ~IORING_ACCEPT_MULTISHOT)
		return -EINVAL;
	if (!o->started) {
		int listening = 0;
		socklen_t len = sizeof listening;
		o->started = true;
		o->at_once = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
			     !listening;
	}
	if (!o->at_once && !ready(fd, POLLIN))
		return wait_for(o, fd, POLLIN);
	int r = accept4(fd, (struct sockaddr *)(uintptr_t)o->sqe.addr,
			(socklen_t *)(uintptr_t)o->sqe.addr2, flags);
	if (r < 0 && !o->at_once && (errno == EAGAIN || errno == EINTR))
		return wait_for(o, fd, POLLIN);
	if (r < 0)
		return -errno;
	if (ready(fd, POLLIN))
		o->cflags |= IORING_CQE_F_SOCK_NONEMPTY;  /* more connections queued */
	return r;
}

/* Room in the done list for one more F_MORE CQE, beyond every final one still owed. */
static bool room_for_more(struct lu_emu *e)
{
	unsigned need = e->inflight + e->nmore + 1;
	if (need <= e->done_cap)
		return true;
	unsigned cap = 2 * need;
	struct io_uring_cqe *d = realloc(e->done, cap * sizeof(*d));
	if (!d)
		return false;
	e->done = d;
	e->done_cap = cap;
	return true;
}

static void post_more(struct lu_emu *e, struct op *o, int res, uint32_t flags)
{
	e->done[e->ndone++] = (struct io_uring_cqe){
		.user_data = o->sqe.user_data, .res = res, .flags = flags | IORING_CQE_F_MORE,
	};
	e->nmore++;
}

/*
 * IORING_ACCEPT_MULTISHOT: accept while connections are queued, one F_MORE CQE each; an error
 * (a socket that is not listening, EMFILE) is the final CQE, as in the kernel.
 */
static int accept_multishot(struct lu_emu *e, struct op *o)
{
	for (unsigned n = 0; n < MULTISHOT_TURN && room_for_more(e); n++) {
		int r = accept_op(o);
		if (r < 0)
			return r;  /* WAIT included */
		post_more(e, o, r, o->cflags);
		o->cflags = 0;
	}
	return wait_for(o, o->sqe.fd, POLLIN);
}

static struct group *group_of(struct lu_emu *e, uint16_t bgid)
{
	for (unsigned i = 0; i < e->ngroups; i++)
		if (e->groups[i].bgid == bgid)
			return &e->groups[i];
	return NULL;
}

/*
 * A recv into a buffer of group buf_group (IOSQE_BUFFER_SELECT), as the kernel's io_recv: each
 * try picks the buffer before the recv, so an empty group fails with -ENOBUFS even with no data
 * queued, and a recv that must wait (or reads end of file) puts it back unused.  The SQE's len,
 * when not 0, caps each recv.  With IORING_RECV_MULTISHOT it goes on, one F_MORE CQE per
 * buffer filled, until the group runs dry (-ENOBUFS), end of file (0) or an error; after a
 * buffer is filled it tries again at once only while bytes (or the FIN) are queued, else it
 * waits for them, as the kernel's retry follows the socket's inq hint.
 */
static int recv_select(struct lu_emu *e, struct op *o)
{
	int fd = o->sqe.fd, flags = (int)o->sqe.msg_flags;
	bool multishot = o->sqe.ioprio & IORING_RECV_MULTISHOT;
	struct group *g = group_of(e, o->sqe.buf_group);

	if (o->sqe.ioprio & ~IORING_RECV_MULTISHOT || (multishot && (flags & MSG_WAITALL)))
		return -EINVAL;
	for (unsigned n = 0; n < MULTISHOT_TURN; n++) {
		if ((n > 0 && !ready(fd, POLLIN)) || (multishot && !room_for_more(e)))
			break;
		if (!g || __atomic_load_n(&g->br->tail, __ATOMIC_ACQUIRE) == g->head)
			return -ENOBUFS;
		const struct io_uring_buf *b = &g->br->bufs[g->head & (g->entries - 1)];
		size_t len = o->sqe.len && o->sqe.len < b->len ? o->sqe.len : b->len;
		ssize_t r;
		do
			r = recv(fd, (void *)(uintptr_t)b->addr, len, flags | MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(flags & MSG_DONTWAIT))
			break;
		if (r < 0)
			return -errno;
		if (r == 0) {
			o->cflags = recv_nonempty(fd);  /* the FIN's inq hint, as for any recv */
			return 0;
		}
		g->head++;
		uint32_t cflags = IORING_CQE_F_BUFFER | (uint32_t)b->bid << IORING_CQE_BUFFER_SHIFT;
		if (!multishot) {
			o->cflags = cflags | recv_nonempty(fd);
			return (int)r;
		}
		post_more(e, o, (int)r, cflags);
	}
	return wait_for(o, fd, POLLIN);
}

/*
 * connect(2) on a blocking socket would block the thread, so the socket is non-blocking for
 * the length of the call only (the flag belongs to the open file description, shared with
 * every process that has it), and EINPROGRESS waits for POLLOUT and reads SO_ERROR, which is
 * what the ring's connect does.
 */
static int connect_op(struct op *o)
{
	int fd = o->sqe.fd;

	if (o->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)(uintptr_t)o->sqe.addr,
			(socklen_t)o->sqe.off);
	int err = r < 0 ? errno : 0;
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	if (err == EINPROGRESS) {
		o->connecting = true;
		return wait_for(o, fd, POLLOUT);
	}
	return -err;
}

static bool readable(int fl)
{
	return !(fl & O_PATH) && ((fl & O_ACCMODE) == O_RDONLY || (fl & O_ACCMODE) == O_RDWR);
}

static bool writable(int fl)
{
	return !(fl & O_PATH) && ((fl & O_ACCMODE) == O_WRONLY || (fl & O_ACCMODE) == O_RDWR);
}

/*
 * The checks the ring makes before do_splice, in its order (flags, fd_out, fd_in, a zero
 * length, access modes: splice(2) would say ESPIPE before EBADF), and what the kernel would
 * do on its io-wq worker: wait, unless SPLICE_F_NONBLOCK or an O_NONBLOCK fd makes its pipe
 * operations fail with -EAGAIN (do_splice's rules, per direction).
 */
static int splice_setup(struct op *o)
{
	int in = o->sqe.splice_fd_in, out = o->sqe.fd;
	unsigned flags = o->sqe.splice_flags;
	struct stat si, so;

	if (flags & ~(SPLICE_ALL | SPLICE_F_FD_IN_FIXED))
		return -EINVAL;
	if (fstat(out, &so) < 0)
		return -errno;
	if ((flags & SPLICE_F_FD_IN_FIXED) || fstat(in, &si) < 0)
		return -EBADF;  /* no registered files without a ring */
	if (o->sqe.len == 0)
		return 0;
	int fin = fcntl(in, F_GETFL), fout = fcntl(out, F_GETFL);
	if (fin < 0 || fout < 0 || !readable(fin) || !writable(fout))
		return -EBADF;
	o->pipe_in = S_ISFIFO(si.st_mode);
	o->pipe_out = S_ISFIFO(so.st_mode);
	bool nb_in = fin & O_NONBLOCK, nb_out = fout & O_NONBLOCK;
	o->nb_final = (flags & SPLICE_F_NONBLOCK) ||
		      (o->pipe_in && o->pipe_out ? nb_in || nb_out : o->pipe_in ? nb_out : nb_in);
	/* A socket or tty end blocks splice(2) even with SPLICE_F_NONBLOCK: poll it first. */
	o->poll_in = !o->pipe_in && !nb_in && lu_fd_class_of(si.st_mode, 0) == LU_FD_STREAM;
	o->poll_out = !o->pipe_out && !nb_out && lu_fd_class_of(so.st_mode, 0) == LU_FD_STREAM;
	o->started = true;
	return 1;
}

static int splice_op(struct op *o)
{
	int in = o->sqe.splice_fd_in, out = o->sqe.fd;

	if (!o->started) {
		int r = splice_setup(o);
		if (r <= 0)
			return r;
	}
	if (o->poll_in && !ready(in, POLLIN))
		return wait_for(o, in, POLLIN);
	if (o->poll_out && !ready(out, POLLOUT))
		return wait_for(o, out, POLLOUT);
	loff_t off_in = (loff_t)o->sqe.splice_off_in, off_out = (loff_t)o->sqe.off;
	ssize_t r;
	do
		r = splice(in, off_in == -1 ? NULL : &off_in, out, off_out == -1 ? NULL : &off_out,
			   o->sqe.len, o->sqe.splice_flags | SPLICE_F_NONBLOCK);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return (int)r;
	if (errno != EAGAIN || o->nb_final)
		return -errno;
	/* A pipe end was empty or full: wait for the one that is not ready. */
	if (o->pipe_in && !ready(in, POLLIN))
		return wait_for(o, in, POLLIN);
	if (o->pipe_out && !ready(out, POLLOUT))
		return wait_for(o, out, POLLOUT);
	return o->pipe_in ? wait_for(o, in, POLLIN) : wait_for(o, out, POLLOUT);
}

/*
 * The kernel's fsync checks its flags, then syncs [off, off + len) (len 0: to the end) with
 * vfs_fsync_range; userspace has no ranged fsync, so a range syncs the whole file here (more
 * than asked, never less).  EINTR is retried, as ops.h's twins do.
 */
static int fsync_op(struct op *o)
{
	unsigned flags = o->sqe.fsync_flags;
	int r;

	if (flags & ~IORING_FSYNC_DATASYNC)
		return -EINVAL;
	do
		r = flags & IORING_FSYNC_DATASYNC ? fdatasync(o->sqe.fd) : fsync(o->sqe.fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int run(struct lu_emu *e, struct op *o)
{
	const struct io_uring_sqe *s = &o->sqe;
	int r;

	switch (s->opcode) {
	case IORING_OP_NOP:
		return s->rw_flags ? -EINVAL : 0;  /* nop_flags (inject a result...) not emulated */
	case IORING_OP_READ:
		return rw(o, false);
	case IORING_OP_WRITE:
		return rw(o, true);
	case IORING_OP_OPENAT:
		do
			r = openat(s->fd, (const char *)(uintptr_t)s->addr, (int)s->open_flags,
				   (mode_t)s->len);
		while (r < 0 && errno == EINTR);
		return r < 0 ? -errno : r;
	case IORING_OP_CLOSE:
		/* Linux has released the fd when close(2) says EINTR: that is success. */
		return close(s->fd) == 0 || errno == EINTR ? 0 : -errno;
	case IORING_OP_STATX:
		return statx(s->fd, (const char *)(uintptr_t)s->addr, (int)s->statx_flags, s->len,
			     (struct statx *)(uintptr_t)s->addr2) < 0 ? -errno : 0;
	case IORING_OP_ACCEPT:
		return s->ioprio & IORING_ACCEPT_MULTISHOT ? accept_multishot(e, o) : accept_op(o);
	case IORING_OP_CONNECT:
		return connect_op(o);
	case IORING_OP_RECV:
		if (s->flags & IOSQE_BUFFER_SELECT)
			return recv_select(e, o);
		return s->ioprio & IORING_RECV_MULTISHOT ? -EINVAL : sendrecv(o, false);
	case IORING_OP_SEND:
		return sendrecv(o, true);
	case IORING_OP_SHUTDOWN:
		return shutdown(s->fd, (int)s->len) < 0 ? -errno : 0;
	case IORING_OP_SPLICE:
		return splice_op(o);
	case IORING_OP_FSYNC:
		return fsync_op(o);
	case IORING_OP_MKDIRAT:
		return mkdirat(s->fd, (const char *)(uintptr_t)s->addr, (mode_t)s->len) < 0 ? -errno : 0;
	case IORING_OP_UNLINKAT:
		return unlinkat(s->fd, (const char *)(uintptr_t)s->addr, (int)s->unlink_flags) < 0 ?
			       -errno : 0;
	case IORING_OP_RENAMEAT:
		return renameat2(s->fd, (const char *)(uintptr_t)s->addr, (int)s->len,
				 (const char *)(uintptr_t)s->addr2, s->rename_flags) < 0 ? -errno : 0;
	default:
		return -EINVAL;
	}
}

/*
 * A timeout's deadline, taken when it runs: the kernel reads the timespec and starts the
 * clock when the SQE reaches it, at the enter that this reap stands for.
 */
static int arm(struct op *o)
{
	const struct io_uring_sqe *s = &o->sqe;
	const struct __kernel_timespec *ts = (const void *)(uintptr_t)s->addr;
	unsigned flags = s->timeout_flags;

	if (s->len != 1 || (flags & ~(IORING_TIMEOUT_ABS | IORING_TIMEOUT_ETIME_SUCCESS)) ||
	    s->off != 0)
		return -EINVAL;
	if (!ts)
		return -EFAULT;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0)
		return -EINVAL;
	int64_t base = flags & IORING_TIMEOUT_ABS ? 0 : now_ns();
	if (ts->tv_sec >= (INT64_MAX - base) / NS_PER_S - 1)
		o->deadline = INT64_MAX;
	else
		o->deadline = base + (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
	return 0;
}

/* ---- the lists ---- */

static void finish(struct lu_emu *e, struct op *o, int res)
{
	e->done[e->ndone++] = (struct io_uring_cqe){
		.user_data = o->sqe.user_data, .res = res, .flags = o->cflags,
	};
	free(o);
}

/* Take the first of `list` whose user_data is `ud` out of it, keeping the others' order. */
static struct op *take(struct op **list, unsigned *n, uint64_t ud)
{
	for (unsigned i = 0; i < *n; i++) {
		struct op *o = list[i];
		if (o->sqe.user_data != ud)
			continue;
		memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
		--*n;
		return o;
	}
	return NULL;
}

/* cancel_flags (ALL, FD, ANY...) are not emulated: only the plain by-user_data form. */
static void cancel(struct lu_emu *e, struct op *c)
{
	if (c->sqe.cancel_flags) {
		finish(e, c, -EINVAL);
		return;
	}
	struct op *victim = take(e->waiting, &e->nwaiting, c->sqe.addr);
	if (!victim)
		victim = take(e->timers, &e->ntimers, c->sqe.addr);
	finish(e, c, victim ? 0 : -ENOENT);
	if (victim)
		finish(e, victim, -ECANCELED);
}

/* Submitted operations, in order: each runs, or begins to wait. */
static void run_queue(struct lu_emu *e)
{
	while (e->qhead < e->qlen) {
		struct op *o = e->queue[e->qhead++];
		int r;
		unsigned allowed = IOSQE_ASYNC |
				   (o->sqe.opcode == IORING_OP_RECV ? IOSQE_BUFFER_SELECT : 0);
		if (o->sqe.flags & ~allowed) {
			r = -EINVAL;  /* links, drain, fixed files...: not emulated */
		} else if (o->sqe.opcode == IORING_OP_ASYNC_CANCEL) {
			cancel(e, o);
			continue;
		} else if (o->sqe.opcode == IORING_OP_TIMEOUT) {
			if ((r = arm(o)) == 0) {
				e->timers[e->ntimers++] = o;
				continue;
			}
		} else if ((r = run(e, o)) == WAIT) {
			e->waiting[e->nwaiting++] = o;
			continue;
		}
		finish(e, o, r);
	}
	e->qhead = e->qlen = 0;
}

static int by_deadline(const void *a, const void *b)
{
	const struct op *x = *(struct op *const *)a, *y = *(struct op *const *)b;

	if (x->deadline != y->deadline)
		return x->deadline < y->deadline ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void expire_timers(struct lu_emu *e)
{
	if (e->ntimers == 0)
		return;
	int64_t now = now_ns();
	unsigned keep = 0, n = 0;
	for (unsigned i = 0; i < e->ntimers; i++) {
		struct op *o = e->timers[i];
		if (o->deadline <= now)
			e->expired[n++] = o;
		else
			e->timers[keep++] = o;
	}
	e->ntimers = keep;
	qsort(e->expired, n, sizeof(*e->expired), by_deadline);
	for (unsigned i = 0; i < n; i++)
		finish(e, e->expired[i], -ETIME);
}

static int grow_fd_map(struct lu_emu *e, int maxfd)
{
	if (maxfd < 0 || (unsigned)maxfd < e->fd_map_len)
		return 0;
	unsigned len = e->fd_map_len ? e->fd_map_len : 64;
	while (len <= (unsigned)maxfd)
		len *= 2;
	int *m = realloc(e->fd_map, len * sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(m + e->fd_map_len, 0xff, (len - e->fd_map_len) * sizeof(*m));
	e->fd_map = m;
	e->fd_map_len = len;
	return 0;
}

/*
 * One poll(2) over the waiting operations (`tmo` NULL: no limit), then run each whose fd
 * says it may progress.  One pollfd per distinct fd: poll refuses more entries than
 * RLIMIT_NOFILE, and 10,000 reads may wait on one socket.  EINTR returns 0 with nothing run,
 * so that the caller recomputes the timeout.
 */
static int poll_pass(struct lu_emu *e, const struct timespec *tmo)
{
	int maxfd = -1;
	for (unsigned i = 0; i < e->nwaiting; i++)
		if (e->waiting[i]->wait_fd > maxfd)
			maxfd = e->waiting[i]->wait_fd;
	if (grow_fd_map(e, maxfd) < 0)
		return -ENOMEM;
	unsigned n = 0;
	for (unsigned i = 0; i < e->nwaiting; i++) {
		struct op *o = e->waiting[i];
		int *slot = &e->fd_map[o->wait_fd];
		if (*slot < 0) {
			e->pfds[n] = (struct pollfd){ .fd = o->wait_fd };
			*slot = (int)n++;
		}
		o->pidx = (unsigned)*slot;
		e->pfds[o->pidx].events |= o->wait_events;
	}
	for (unsigned i = 0; i < n; i++)
		e->fd_map[e->pfds[i].fd] = -1;
	int r = ppoll(e->pfds, n, tmo, NULL);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	unsigned keep = 0;
	for (unsigned i = 0; i < e->nwaiting; i++) {
		struct op *o = e->waiting[i];
		short rev = e->pfds[o->pidx].revents;
		bool woken = rev & (o->wait_events | POLLERR | POLLHUP | POLLNVAL);
		int res;
		if (woken && (res = run(e, o)) != WAIT)
			finish(e, o, res);
		else
			e->waiting[keep++] = o;
	}
	e->nwaiting = keep;
	return 0;
}

/* Until the nearest deadline, or no limit. */
static const struct timespec *timeout_of(const struct lu_emu *e, struct timespec *ts)
{
	if (e->ntimers == 0)
		return NULL;
	int64_t first = INT64_MAX;
	for (unsigned i = 0; i < e->ntimers; i++)
		if (e->timers[i]->deadline < first)
			first = e->timers[i]->deadline;
	int64_t d = first - now_ns();
	if (d < 0)
		d = 0;
	ts->tv_sec = (time_t)(d / NS_PER_S);
	ts->tv_nsec = (long)(d % NS_PER_S);
	return ts;
}

/* Delivered CQEs leave the front of the done list; a reap starts with them gone. */
static void compact_done(struct lu_emu *e)
{
	if (e->dhead == 0)
		return;
	memmove(e->done, e->done + e->dhead, (e->ndone - e->dhead) * sizeof(*e->done));
	e->ndone -= e->dhead;
	e->dhead = 0;
}

/* Reads e->dhead afresh each time: `fn` may reap again and deliver the rest itself. */
static int deliver(struct lu_emu *e, lu_emu_cqe_fn *fn, void *ctx)
{
	int n = 0;

	while (e->dhead < e->ndone) {
		struct io_uring_cqe c = e->done[e->dhead++];
		if (c.flags & IORING_CQE_F_MORE)
			e->nmore--;
		else
			e->inflight--;
		n++;
		fn(ctx, &c);
	}
	e->dhead = e->ndone = 0;
	return n;
}

/* ---- the interface ---- */

struct lu_emu *lu_emu_new(void)
{
	return calloc(1, sizeof(struct lu_emu));
}

static void free_ops(struct op **list, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		free(list[i]);
}

void lu_emu_free(struct lu_emu *e)
{
	if (!e)
		return;
	free_ops(e->queue, e->qhead, e->qlen);
	free_ops(e->waiting, 0, e->nwaiting);
	free_ops(e->timers, 0, e->ntimers);
	free(e->queue);
	free(e->waiting);
	free(e->timers);
	free(e->expired);
	free(e->done);
	free(e->pfds);
	free(e->fd_map);
	free(e->groups);
	free(e);
}

#define GROW(e, field, cap)                                                          \
	({                                                                           \
		void *p_ = realloc((e)->field, (cap) * sizeof(*(e)->field));         \
		if (p_)                                                              \
			(e)->field = p_;                                             \
		p_ != NULL;                                                          \
	})

/* Room in every list for `need` operations; a partial failure leaves them only larger. */
static int reserve(struct lu_emu *e, unsigned need)
{
	unsigned done_need = need + e->nmore;
	if (done_need > e->done_cap) {
		unsigned done_cap = e->done_cap ? 2 * e->done_cap : 16;
		if (done_cap < done_need)
			done_cap = done_need;
		if (!GROW(e, done, done_cap))
			return -ENOMEM;
		e->done_cap = done_cap;
	}
	if (need <= e->cap)
		return 0;
	unsigned cap = e->cap ? e->cap : 16;
	while (cap < need)
		cap *= 2;
	if (!GROW(e, queue, cap) || !GROW(e, waiting, cap) || !GROW(e, timers, cap) ||
	    !GROW(e, expired, cap) || !GROW(e, pfds, cap))
		return -ENOMEM;
	e->cap = cap;
	return 0;
}

int lu_emu_submit(struct lu_emu *e, const struct io_uring_sqe *sqe)
{
	if (e->inflight == UINT_MAX || reserve(e, e->inflight + 1) < 0)
		return -ENOMEM;
	struct op *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->sqe = *sqe;
	o->seq = e->seq++;
	e->queue[e->qlen++] = o;
	e->inflight++;
	return 0;
}

int lu_emu_reap(struct lu_emu *e, bool block, lu_emu_cqe_fn *fn, void *ctx)
{
	static const struct timespec now = { 0, 0 };
	int err = 0;

	compact_done(e);
	run_queue(e);
	if (e->nwaiting > 0)
		err = poll_pass(e, &now);
	expire_timers(e);
	while (err == 0 && block && e->ndone == 0 && (e->nwaiting > 0 || e->ntimers > 0)) {
		struct timespec ts;
		err = poll_pass(e, timeout_of(e, &ts));
		expire_timers(e);
	}
	int n = deliver(e, fn, ctx);
	return n > 0 || err == 0 ? n : err;
}

int lu_emu_register_pbuf(struct lu_emu *e, uint16_t bgid, struct io_uring_buf_ring *br,
			 unsigned entries)
{
	if (group_of(e, bgid))
		return -EEXIST;
	struct group *g = realloc(e->groups, (e->ngroups + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	e->groups = g;
	e->groups[e->ngroups++] = (struct group){ .br = br, .entries = entries, .bgid = bgid };
	return 0;
}

int lu_emu_unregister_pbuf(struct lu_emu *e, uint16_t bgid)
{
	struct group *g = group_of(e, bgid);
	if (!g)
		return -ENOENT;
	*g = e->groups[--e->ngroups];
	return 0;
}

unsigned lu_emu_inflight(const struct lu_emu *e)
{
	return e->inflight;
}

void lu_emu_cancel_all(struct lu_emu *e, lu_emu_cqe_fn *fn, void *ctx)
{
	compact_done(e);
	run_queue(e);
	for (unsigned i = 0; i < e->nwaiting; i++)
		finish(e, e->waiting[i], -ECANCELED);
	for (unsigned i = 0; i < e->ntimers; i++)
		finish(e, e->timers[i], -ECANCELED);
	e->nwaiting = e->ntimers = 0;
	deliver(e, fn, ctx);
}
