/*
 * lu_read - the copy engine's read side alone: FILE copied to /dev/null with lu_copy_fd (8
 * reads of 128 KiB in flight under io_uring, as bench/lean/FiberBench.lean's pipelined read),
 * best of 5, printed as "c_read_mb_per_s N".
 *
 *     LEAN_IO_BACKEND=uring lu_read FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "copy.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lu_read FILE\n");
		return 2;
	}
	if (lu_backend_init() < 0) {
		fprintf(stderr, "lu_read: %s\n", lu_backend()->reason);
		return 1;
	}
	double best = 0;
	uint64_t bytes = 0;
	for (int k = 0; k < 5; k++) {
		int in = open(argv[1], O_RDONLY | O_CLOEXEC);
		int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (in < 0 || out < 0) {
			perror("lu_read: open");
			return 1;
		}
		struct lu_copy_result res;
		double t0 = now();
		int r = lu_copy_fd(in, out, NULL, &res);
		double t = now() - t0;
		close(in);
		close(out);
		if (r < 0) {
			fprintf(stderr, "lu_read: %s\n", strerror(-r));
			return 1;
		}
		bytes = res.bytes;
		if (k == 0 || t < best)
			best = t;
	}
	printf("c_read_bytes %llu\n", (unsigned long long)bytes);
	printf("c_read_mb_per_s %.0f\n", (double)bytes / 1048576.0 / best);
	return 0;
}
