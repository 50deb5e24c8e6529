/*
 * echo_check - a checking client for an echo server on 127.0.0.1 (tests/demos/echo.sh).
 *
 *     echo_check -p PORT [-c CONNS] [-r RESETS] [-s SEED] [-t SECONDS]
 *
 * Opens CONNS connections (default 500) and RESETS more (default 0) before sending anything,
 * then drives them all at once from one epoll loop.  Each of the CONNS sends random bytes of
 * its own size (1 byte, up to 100, 4 KiB, 64 KiB, 200 KiB or 600 KiB, by connection number),
 * shuts down its sending side, and checks that every byte comes back, in order, and then the
 * end of stream.  Each of the RESETS sends the first 64 KiB or more of 512 KiB, waits for some
 * of it to come back and aborts the connection with a reset (SO_LINGER 0) while the server is
 * still echoing.  Fails (exit 1, naming the connection) on a wrong, missing or extra byte, an
 * early end, an error, or SECONDS (default 60) without progress; prints one line on success.
 *
 *     cc -O2 -o echo_check tests/demos/echo_check.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int reset; /* to be aborted with a reset once some of its bytes came back */
	int done;
	size_t size, sent, got;
	unsigned char *data;
};

static uint64_t rng = 88172645463325252u;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t size_of(unsigned i)
{
	static const size_t top[] = {1, 100, 4096, 65536, 200000, 600000};
	size_t t = top[i % 6];
	/* Half of them exactly the top (1 byte, 64 KiB), the others anywhere above half of it. */
	return i % 12 < 6 ? t : t / 2 + 1 + next_random() % (t - t / 2);
}

static int fail(const char *what, unsigned i, const struct conn *c)
{
	fprintf(stderr, "echo_check: connection %u (%zu bytes, sent %zu, got back %zu): %s\n", i,
		c->size, c->sent, c->got, what);
	return 1;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	return fd;
}

static void abort_with_reset(struct conn *c)
{
	struct linger l = {1, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(c->fd);
	c->done = 1;
}

/* Receive what is there; 0 on success (and c->done set at the end of the stream). */
static int on_readable(struct conn *c, unsigned i, unsigned char *tmp, size_t tmpsize)
{
	for (;;) {
		ssize_t n = recv(c->fd, tmp, tmpsize, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return fail(strerror(errno), i, c);
		}
		if (n == 0) {
			if (c->reset || c->got < c->size)
				return fail("end of stream before every byte came back", i, c);
			close(c->fd);
			c->done = 1;
			return 0;
		}
		if (c->got + (size_t)n > c->size)
			return fail("more bytes came back than were sent", i, c);
		if (memcmp(tmp, c->data + c->got, (size_t)n) != 0)
			return fail("a byte came back wrong", i, c);
		c->got += (size_t)n;
		if (c->reset && c->sent >= 65536) {
			abort_with_reset(c);
			return 0;
		}
	}
}

static int on_writable(int ep, struct conn *c, unsigned i)
{
	while (c->sent < c->size && !(c->reset && c->sent >= 65536)) {
		ssize_t n = send(c->fd, c->data + c->sent, c->size - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return fail(strerror(errno), i, c);
		}
		c->sent += (size_t)n;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
	if (!c->reset && shutdown(c->fd, SHUT_WR) != 0)
		return fail(strerror(errno), i, c);
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return fail(strerror(errno), i, c);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned conns = 500, resets = 0, timeout = 60;
	int port = 0, opt;

	while ((opt = getopt(argc, argv, "p:c:r:s:t:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'c')
			conns = (unsigned)atoi(optarg);
		else if (opt == 'r')
			resets = (unsigned)atoi(optarg);
		else if (opt == 's')
			rng ^= strtoull(optarg, NULL, 10) * 0x9E3779B97F4A7C15u;
		else if (opt == 't')
			timeout = (unsigned)atoi(optarg);
		else
			port = 0;
	}
	if (port <= 0 || port > 65535 || conns + resets == 0 || rng == 0) {
		fprintf(stderr, "usage: echo_check -p PORT [-c CONNS] [-r RESETS] [-s SEED] [-t SECONDS]\n");
		return 2;
	}
	unsigned total = conns + resets;
	struct conn *cs = calloc(total, sizeof *cs);
	size_t tmpsize = 1 << 16, bytes = 0;
	unsigned char *tmp = malloc(tmpsize);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || !tmp || ep < 0)
		return 1;
	for (unsigned i = 0; i < total; i++) {
		struct conn *c = &cs[i];
		c->reset = i >= conns;
		c->size = c->reset ? 512 * 1024 : size_of(i);
		c->data = malloc(c->size);
		if (!c->data)
			return 1;
		for (size_t k = 0; k < c->size; k++)
			c->data[k] = (unsigned char)(next_random() >> 24);
		if ((c->fd = connect_to((uint16_t)port)) < 0) {
			perror("echo_check: connect to 127.0.0.1");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			return 1;
		if (!c->reset)
			bytes += c->size;
	}
	unsigned left = total;
	time_t progress = time(NULL);
	struct epoll_event evs[256];
	while (left > 0) {
		int n = epoll_wait(ep, evs, 256, 200);
		if (n < 0 && errno != EINTR)
			return 1;
		for (int k = 0; k < n; k++) {
			unsigned i = evs[k].data.u32;
			struct conn *c = &cs[i];
			if (c->done)
				continue;
			if ((evs[k].events & EPOLLOUT) && on_writable(ep, c, i))
				return 1;
			if ((evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && on_readable(c, i, tmp, tmpsize))
				return 1;
			if (c->done)
				left--;
		}
		if (n > 0)
			progress = time(NULL);
		else if (time(NULL) - progress > timeout) {
			for (unsigned i = 0; i < total; i++)
				if (!cs[i].done)
					return fail("no progress: the server stalled", i, &cs[i]);
		}
	}
	printf("echo_check: %u connections, %zu bytes each way, every byte checked; %u reset mid-stream\n",
	       conns, bytes, resets);
	return 0;
}
