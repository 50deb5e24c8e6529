/*
 * lu_echo - the echo server alone (echo.h), without Lean: the C reference point for
 * examples/echo.lean.
 *
 *     LEAN_IO_BACKEND=uring|posix lu_echo PORT MAXCONN
 *
 * Listens on 127.0.0.1:PORT exactly as IO.Net.echoServe does and serves until MAXCONN
 * connections have closed (0: forever), then prints how many were served.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "echo.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: lu_echo PORT MAXCONN\n");
		return 2;
	}
	if (lu_backend_init() < 0) {
		fprintf(stderr, "lu_echo: %s\n", lu_backend()->reason);
		return 1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, SOMAXCONN) < 0) {
		perror("lu_echo: listen on 127.0.0.1");
		return 1;
	}
	struct lu_echo_opts o = {.max_connections = (unsigned)atoi(argv[2])};
	struct lu_echo_stats st;
	int r = lu_echo_serve(fd, &o, &st);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "lu_echo: %s\n", strerror(-r));
		return 1;
	}
	printf("lu_echo: served %llu connections\n", (unsigned long long)st.connections);
	return 0;
}
