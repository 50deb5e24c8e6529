/*
 * echo_load - a bounded load generator for an echo server on 127.0.0.1.
 *
 *     echo_load -p PORT [-c CONNS] [-t THREADS] [-n ROUNDS | -d SECONDS] [-s SIZE]
 *
 * CONNS connections (default 1), dealt to THREADS threads (default: one per connection), each
 * connection doing ROUNDS round trips (default 1000), or as many as fit in SECONDS: send SIZE
 * bytes (default 64), receive them back, check every byte, send the next.  A thread drives its
 * connections through epoll, so a few threads can keep hundreds of connections busy, as wrk
 * does for HTTP.  Every connection is opened before any thread starts sending, so a server
 * that serves one connection at a time makes the others wait, as its clients would.
 * Prints one line:
 *     requests/s p50_us p99_us max_us max_first_us max_later_us
 * over all round trips of all connections (latency = send to last byte back), then the worst
 * of the connections' first round trips (which include the server's accept) and the worst of
 * the others.  Exits non-zero on any error or
 * mismatch; a server that answers nothing for 60 s counts as an error.  The fd limit is raised
 * to its hard limit, so that hundreds of connections fit under a default soft limit.
 *
 *     cc -O2 -pthread -o echo_load bench/echo_load.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STALL_MS 60000

struct conn {
	int fd;
	size_t put, got, rounds;	/* bytes of the current round; rounds completed */
	uint64_t t0;			/* when the current round's first byte went out */
	uint64_t *lat_ns;		/* one per completed round, grown under a deadline */
	size_t cap;
	char *out, *in;
};

struct worker {
	pthread_t thread;
	struct conn *conns;
	unsigned nconns, size;
	size_t rounds;		/* per connection, unless deadline_ns */
	uint64_t deadline_ns;	/* 0: exactly `rounds` round trips */
	int failed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Connect, retrying for up to 5 s while the server starts. */
static int connect_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 500; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			return fd;
		}
		close(fd);
		if (errno != ECONNREFUSED)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* Start the connection's next round, unless it has done its share: fill the message (a letter
 * per round, so that a stale echo of the previous round is caught) and send what fits. */
static int start_round(struct worker *w, struct conn *c, int ep)
{
	if (w->deadline_ns ? now_ns() >= w->deadline_ns : c->rounds >= w->rounds) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		return 0;
	}
	if (c->rounds == c->cap) {
		uint64_t *grown = realloc(c->lat_ns, 2 * c->cap * sizeof *grown);
		if (!grown)
			return -1;
		c->lat_ns = grown;
		c->cap *= 2;
	}
	memset(c->out, 'a' + (int)(c->rounds % 26), w->size);
	c->put = c->got = 0;
	c->t0 = now_ns();
	return 1;
}

/* Send what the socket takes, then ask epoll for room (EPOLLOUT) only while some is left. */
static int pump_send(struct worker *w, struct conn *c, int ep)
{
	while (c->put < w->size) {
		ssize_t n = send(c->fd, c->out + c->put, w->size - c->put, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		c->put += (size_t)n;
	}
	struct epoll_event ev = {.events = EPOLLIN | (c->put < w->size ? EPOLLOUT : 0), .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Receive what has arrived; at the round's last byte, check it and start the next round (whose
 * echo cannot have arrived yet: back to epoll, without a recv bound to fail).
 * Returns 1 while the connection goes on, 0 once it is done, -1 on an error or a mismatch. */
static int pump_recv(struct worker *w, struct conn *c, int ep)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->got, w->size - c->got, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n <= 0 || c->got + (size_t)n > c->put)
			return -1;	/* closed, failed, or an echo of bytes never sent */
		c->got += (size_t)n;
		if (c->got < w->size)
			continue;
		c->lat_ns[c->rounds++] = now_ns() - c->t0;
		if (memcmp(c->in, c->out, w->size) != 0)
			return -1;
		int more = start_round(w, c, ep);
		if (more <= 0)
			return more;
		return pump_send(w, c, ep) < 0 ? -1 : 1;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	unsigned live = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	w->failed = ep < 0;
	for (unsigned i = 0; i < w->nconns && !w->failed; i++) {
		struct conn *c = &w->conns[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		w->failed = epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0;
		if (!w->failed && start_round(w, c, ep) > 0) {
			live++;
			w->failed = pump_send(w, c, ep) < 0;
		}
	}
	struct epoll_event evs[64];
	while (live > 0 && !w->failed) {
		int n = epoll_wait(ep, evs, 64, STALL_MS);
		if (n <= 0) {
			w->failed = !(n < 0 && errno == EINTR);
			continue;
		}
		for (int i = 0; i < n && !w->failed; i++) {
			struct conn *c = evs[i].data.ptr;
			int r = 1;
			if (evs[i].events & EPOLLOUT)
				r = pump_send(w, c, ep) < 0 ? -1 : 1;
			if (r > 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				r = pump_recv(w, c, ep);
			w->failed = r < 0;
			live -= r == 0;
		}
	}
	if (ep >= 0)
		close(ep);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned conns = 1, threads = 0, rounds = 1000, size = 64, seconds = 0;
	int port = 0, opt;

	while ((opt = getopt(argc, argv, "p:c:t:n:d:s:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'c')
			conns = (unsigned)atoi(optarg);
		else if (opt == 't')
			threads = (unsigned)atoi(optarg);
		else if (opt == 'n')
			rounds = (unsigned)atoi(optarg);
		else if (opt == 'd')
			seconds = (unsigned)atoi(optarg);
		else if (opt == 's')
			size = (unsigned)atoi(optarg);
		else
			port = 0;
	}
	if (port <= 0 || port > 65535 || conns == 0 || rounds == 0 || size == 0) {
		fprintf(stderr, "usage: echo_load -p PORT [-c CONNS] [-t THREADS] [-n ROUNDS | -d SECONDS]"
				" [-s SIZE]\n");
		return 2;
	}
	if (threads == 0 || threads > conns)
		threads = conns;
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_NOFILE, &lim);
	}
	struct conn *cs = calloc(conns, sizeof *cs);
	struct worker *ws = calloc(threads, sizeof *ws);
	if (!cs || !ws)
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		struct conn *c = &cs[i];
		c->cap = seconds ? 1024 : rounds;
		c->lat_ns = malloc(c->cap * sizeof *c->lat_ns);
		c->out = malloc(size);
		c->in = malloc(size);
		if (!c->lat_ns || !c->out || !c->in)
			return 1;
		if ((c->fd = connect_to((uint16_t)port)) < 0) {
			perror("echo_load: connect to 127.0.0.1");
			return 1;
		}
	}
	uint64_t t0 = now_ns();
	for (unsigned t = 0, first = 0; t < threads; t++) {
		unsigned share = conns / threads + (t < conns % threads);
		ws[t] = (struct worker){.conns = cs + first, .nconns = share, .size = size,
					.rounds = rounds,
					.deadline_ns = seconds ? t0 + (uint64_t)seconds * 1000000000u : 0};
		first += share;
		if (pthread_create(&ws[t].thread, NULL, run, &ws[t]) != 0)
			return 1;
	}
	int failed = 0;
	for (unsigned t = 0; t < threads; t++) {
		pthread_join(ws[t].thread, NULL);
		failed |= ws[t].failed;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	if (failed) {
		fprintf(stderr, "echo_load: a round trip failed, stalled or came back wrong\n");
		return 1;
	}
	size_t total = 0;
	for (unsigned i = 0; i < conns; i++)
		total += cs[i].rounds;
	uint64_t *lat = total ? malloc(total * sizeof *lat) : NULL;
	if (!lat) {
		fprintf(stderr, "echo_load: no round trip completed\n");
		return 1;
	}
	uint64_t worst_first = 0, worst_later = 0;
	for (size_t i = 0, k = 0; i < conns; k += cs[i].rounds, i++) {
		memcpy(lat + k, cs[i].lat_ns, cs[i].rounds * sizeof *lat);
		for (size_t r = 0; r < cs[i].rounds; r++) {
			uint64_t *worst = r == 0 ? &worst_first : &worst_later;
			if (cs[i].lat_ns[r] > *worst)
				*worst = cs[i].lat_ns[r];
		}
	}
	qsort(lat, total, sizeof *lat, cmp_u64);
	printf("%.0f %.1f %.1f %.1f %.1f %.1f\n", (double)total / secs, (double)lat[total / 2] / 1e3,
	       (double)lat[total * 99 / 100] / 1e3, (double)lat[total - 1] / 1e3,
	       (double)worst_first / 1e3, (double)worst_later / 1e3);
	return 0;
}
