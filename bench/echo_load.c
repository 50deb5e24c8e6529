/*
 * echo_load - a bounded load generator for an echo server on 127.0.0.1.
 *
 *     echo_load -p PORT [-c CONNS] [-n ROUNDS] [-s SIZE]
 *
 * CONNS connections (default 1), each on its own thread, each doing ROUNDS round trips
 * (default 1000): send SIZE bytes (default 64), receive them back, check them.  Every
 * connection is opened before any thread starts sending, so a server that serves one
 * connection at a time makes the others wait, as its clients would.  Prints one line:
 *     requests/s p50_us p99_us max_us
 * over all round trips of all connections (latency = send to last byte back; the worst one
 * shows how long a connection waited for its first echo).  Exits non-zero
 * on any error or mismatch; a 60 s receive timeout bounds a stalled server.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	pthread_t thread;
	int fd;
	unsigned rounds, size;
	uint64_t *lat_ns;
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
			struct timeval tv = {60, 0};
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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

static void *run(void *arg)
{
	struct client *c = arg;
	char *out = malloc(c->size), *in = malloc(c->size);

	c->failed = !out || !in;
	for (unsigned r = 0; r < c->rounds && !c->failed; r++) {
		memset(out, 'a' + (int)(r % 26), c->size);
		uint64_t t0 = now_ns();
		size_t put = 0, got = 0;
		while (put < c->size) {
			ssize_t n = send(c->fd, out + put, c->size - put, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			put += (size_t)n;
		}
		while (got < c->size) {
			ssize_t n = recv(c->fd, in + got, c->size - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		c->lat_ns[r] = now_ns() - t0;
		c->failed = put < c->size || got < c->size || memcmp(in, out, c->size) != 0;
	}
	close(c->fd);
	free(out);
	free(in);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned conns = 1, rounds = 1000, size = 64;
	int port = 0, opt;

	while ((opt = getopt(argc, argv, "p:c:n:s:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'c')
			conns = (unsigned)atoi(optarg);
		else if (opt == 'n')
			rounds = (unsigned)atoi(optarg);
		else if (opt == 's')
			size = (unsigned)atoi(optarg);
		else
			port = 0;
	}
	if (port <= 0 || port > 65535 || conns == 0 || rounds == 0 || size == 0) {
		fprintf(stderr, "usage: echo_load -p PORT [-c CONNS] [-n ROUNDS] [-s SIZE]\n");
		return 2;
	}
	struct client *cs = calloc(conns, sizeof *cs);
	uint64_t *lat = calloc((size_t)conns * rounds, sizeof *lat);
	if (!cs || !lat)
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		cs[i] = (struct client){.rounds = rounds, .size = size, .lat_ns = lat + (size_t)i * rounds};
		if ((cs[i].fd = connect_to((uint16_t)port)) < 0) {
			perror("echo_load: connect to 127.0.0.1");
			return 1;
		}
	}
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < conns; i++)
		if (pthread_create(&cs[i].thread, NULL, run, &cs[i]) != 0)
			return 1;
	int failed = 0;
	for (unsigned i = 0; i < conns; i++) {
		pthread_join(cs[i].thread, NULL);
		failed |= cs[i].failed;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	if (failed) {
		fprintf(stderr, "echo_load: a round trip failed or came back wrong\n");
		return 1;
	}
	size_t total = (size_t)conns * rounds;
	qsort(lat, total, sizeof *lat, cmp_u64);
	printf("%.0f %.1f %.1f %.1f\n", (double)total / secs, (double)lat[total / 2] / 1e3,
	       (double)lat[total * 99 / 100] / 1e3, (double)lat[total - 1] / 1e3);
	free(lat);
	free(cs);
	return 0;
}
