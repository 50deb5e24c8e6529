/*
 * echo.c - the echo server; see echo.h.
 *
 * The ring form is a table of connection slots.  user_data is (slot << 2) | kind, where kind
 * says which operation completed; the pending accept has no slot yet and carries kind ACCEPT.
 * An accept is posted only while a slot is free, so an accepted fd always has a home, and no
 * accept is posted once max_connections were accepted, so the loop ends when the last
 * connection closes and nothing is in flight.  A serve that fails cancels its pending accept
 * (kind CANCEL), so it does not wait for one more client before it returns.
 */
#include "echo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "driver.h"

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND, OP_CANCEL };

struct conn {
	int fd;          /* -1 when the slot is free */
	uint32_t len;    /* bytes received, to echo */
	uint32_t sent;   /* bytes of `len` sent so far */
};

struct server {
	struct lu_driver *d;
	const struct lu_ops *ops;
	int listen_fd;
	unsigned max_connections;
	uint32_t buf_size;
	struct conn *conns;
	char *bufs;
	unsigned *free_list, nfree, nslots;
	bool accepting;    /* an accept is in flight */
	unsigned open;
	int err;
	struct lu_echo_stats *st;
};

/* Errors that concern one attempt, not the listening socket (accept(2), "Error handling"). */
static bool accept_retryable(int r)
{
	return r == -EINTR || r == -EAGAIN || r == -ECONNABORTED || r == -EPROTO;
}

static bool more_to_accept(const struct server *s)
{
	return s->max_connections == 0 || s->st->connections < s->max_connections;
}

static int submit(struct server *s, unsigned slot, enum op_kind kind)
{
	struct io_uring_sqe sqe;

	memset(&sqe, 0, sizeof sqe);
	if (kind == OP_ACCEPT) {
		sqe.opcode = IORING_OP_ACCEPT;
		sqe.fd = s->listen_fd;
		sqe.accept_flags = SOCK_CLOEXEC;
	} else if (kind == OP_CANCEL) {
		sqe.opcode = IORING_OP_ASYNC_CANCEL;
		sqe.addr = OP_ACCEPT;  /* the pending accept's user_data: no slot, kind ACCEPT */
	} else {
		struct conn *c = &s->conns[slot];
		char *buf = s->bufs + (size_t)slot * s->buf_size;
		sqe.fd = c->fd;
		if (kind == OP_RECV) {
			sqe.opcode = IORING_OP_RECV;
			sqe.addr = (uintptr_t)buf;
			sqe.len = s->buf_size;
		} else {
			sqe.opcode = IORING_OP_SEND;
			sqe.addr = (uintptr_t)(buf + c->sent);
			sqe.len = c->len - c->sent;
			sqe.msg_flags = MSG_NOSIGNAL;
		}
	}
	sqe.user_data = (uint64_t)slot << 2 | kind;
	return lu_submit(s->d, &sqe);
}

static void close_conn(struct server *s, unsigned slot)
{
	s->ops->close(s->conns[slot].fd);
	s->conns[slot].fd = -1;
	s->free_list[s->nfree++] = slot;
	s->open--;
}

/*
 * The serve ends with `err`: shutting every connection down makes its pending recv or send
 * complete at once, so the drain does not wait for idle clients.
 */
static void fail(struct server *s, int err)
{
	if (s->err)
		return;
	s->err = err;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->conns[i].fd >= 0)
			s->ops->shutdown(s->conns[i].fd, SHUT_RDWR);
	if (s->accepting)
		submit(s, 0, OP_CANCEL);
}

/* Submit the connection's next operation; if the ring refuses it, the serve ends. */
static void next_op(struct server *s, unsigned slot, enum op_kind kind)
{
	int r = submit(s, slot, kind);

	if (r < 0) {
		close_conn(s, slot);
		fail(s, r);
	}
}

static void accepted(struct server *s, int r)
{
	s->accepting = false;
	if (accept_retryable(r))
		return;
	if (r < 0) {
		fail(s, r);
		return;
	}
	if (s->err) {
		s->ops->close(r);
		return;
	}
	unsigned slot = s->free_list[--s->nfree];
	s->conns[slot] = (struct conn){ .fd = r };
	s->st->connections++;
	if (++s->open > s->st->max_open)
		s->st->max_open = s->open;
	next_op(s, slot, OP_RECV);
}

static void complete(struct server *s, unsigned slot, enum op_kind kind, int r)
{
	struct conn *c = &s->conns[slot];

	if (r == -EINTR || r == -EAGAIN) {
		next_op(s, slot, kind);
		return;
	}
	if (r <= 0 || s->err) {
		close_conn(s, slot);
		return;
	}
	if (kind == OP_RECV) {
		c->len = (uint32_t)r;
		c->sent = 0;
		next_op(s, slot, OP_SEND);
		return;
	}
	c->sent += (uint32_t)r;
	s->st->bytes += (uint32_t)r;
	next_op(s, slot, c->sent < c->len ? OP_SEND : OP_RECV);
}

static int serve_ring(struct server *s)
{
	int err;

	s->d = lu_driver_get(&err);
	if (!s->d)
		return err;
	if (lu_inflight(s->d) != 0)
		return -EBUSY;
	s->conns = calloc(s->nslots, sizeof *s->conns);
	s->free_list = calloc(s->nslots, sizeof *s->free_list);
	s->bufs = malloc((size_t)s->nslots * s->buf_size);
	if (!s->conns || !s->free_list || !s->bufs) {
		free(s->conns);
		free(s->free_list);
		free(s->bufs);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < s->nslots; i++) {
		s->conns[i].fd = -1;
		s->free_list[s->nfree++] = s->nslots - 1 - i;
	}

	for (;;) {
		if (!s->err && !s->accepting && s->nfree > 0 && more_to_accept(s)) {
			int r = submit(s, 0, OP_ACCEPT);
			if (r < 0)
				fail(s, r);
			else
				s->accepting = true;
		}
		if (lu_inflight(s->d) == 0)
			break;
		struct io_uring_cqe cqe;
		err = lu_wait(s->d, &cqe);
		if (err < 0) {
			/*
			 * Completions were lost (-EBADR) or the ring failed: operations may still be
			 * in the kernel, so their buffers are leaked rather than freed under it.
			 */
			return err;
		}
		enum op_kind kind = (enum op_kind)(cqe.user_data & 3);
		if (kind == OP_ACCEPT)
			accepted(s, cqe.res);
		else if (kind != OP_CANCEL)
			complete(s, (unsigned)(cqe.user_data >> 2), kind, cqe.res);
	}
	free(s->bufs);
	free(s->conns);
	free(s->free_list);
	return s->err;
}

/* Echo one connection until it closes or fails; either way only this connection ends. */
static void echo_blocking(struct server *s, int fd, char *buf)
{
	for (;;) {
		ssize_t n = s->ops->recv(fd, buf, s->buf_size, 0);
		if (n <= 0)
			return;
		for (ssize_t put = 0; put < n;) {
			ssize_t w = s->ops->send(fd, buf + put, (size_t)(n - put), MSG_NOSIGNAL);
			if (w <= 0)
				return;
			put += w;
			s->st->bytes += (uint64_t)w;
		}
	}
}

static int serve_loop(struct server *s)
{
	char *buf = malloc(s->buf_size);

	if (!buf)
		return -ENOMEM;
	int err = 0;
	while (more_to_accept(s)) {
		int fd = s->ops->accept(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (accept_retryable(fd))
			continue;
		if (fd < 0) {
			err = fd;
			break;
		}
		s->st->connections++;
		s->st->max_open = 1;
		echo_blocking(s, fd, buf);
		s->ops->close(fd);
	}
	free(buf);
	return err;
}

int lu_echo_serve(int listen_fd, const struct lu_echo_opts *o, struct lu_echo_stats *st)
{
	struct lu_echo_stats ignored;

	if (!st)
		st = &ignored;
	memset(st, 0, sizeof *st);
	struct server s = {
		.ops = o && o->ops ? o->ops : lu_ops(),
		.listen_fd = listen_fd,
		.max_connections = o ? o->max_connections : 0,
		.buf_size = o && o->buf_size ? o->buf_size : LU_ECHO_DEFAULT_BUF,
		.nslots = o && o->slots ? o->slots : LU_ECHO_DEFAULT_SLOTS,
		.st = st,
	};
	if (s.buf_size > (1u << 30) || s.nslots > (1u << 29))
		return -EINVAL;
	return s.ops == &lu_uring_ops ? serve_ring(&s) : serve_loop(&s);
}
