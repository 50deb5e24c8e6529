/*
 * lu_handle - what a buffered handle (handle.h) pays to push 4 KiB to a file: four 1 KiB
 * writes into the buffer, then the flush that writes them out, against the same sequence on a
 * glibc FILE (fwrite + fflush, which is what the POSIX backend runs).
 *
 *     LEAN_IO_BACKEND=uring|posix lu_handle [DIR] [scale]
 *
 * DIR (default /tmp) should be on the file system being measured (ext4 here).  Each figure
 * is ns per flush, the best of REPS runs of 16384 flushes (64 MiB) into a fresh file.  Each
 * competitor has its own file, emptied and synced before its run, so that neither pays for
 * the blocks the other's last run freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "handle.h"

#define REPS 5
#define FLUSHES 16384
#define PIECE 1024
#define PIECES 4

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "lu_handle: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void empty_and_sync(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || fsync(fd) < 0)
		die(path, errno);
	close(fd);
}

static double run_handle(const char *path, long flushes)
{
	static const char piece[PIECE];
	struct lu_handle *h;
	double t0, t1;
	int r;

	empty_and_sync(path);
	r = lu_handle_open(path, "w", &h);
	if (r < 0)
		die("lu_handle_open", r);
	t0 = now_ns();
	for (long i = 0; i < flushes; i++) {
		for (int k = 0; k < PIECES; k++)
			if ((r = lu_handle_write(h, piece, PIECE)) < 0)
				die("lu_handle_write", r);
		if ((r = lu_handle_flush(h)) < 0)
			die("lu_handle_flush", r);
	}
	t1 = now_ns();
	if ((r = lu_handle_close(h)) < 0)
		die("lu_handle_close", r);
	return (t1 - t0) / (double)flushes;
}

static double run_stdio(const char *path, long flushes)
{
	static const char piece[PIECE];
	FILE *f;
	double t0, t1;

	empty_and_sync(path);
	f = fopen(path, "w");
	if (!f)
		die("fopen", errno);
	t0 = now_ns();
	for (long i = 0; i < flushes; i++) {
		for (int k = 0; k < PIECES; k++)
			if (fwrite(piece, 1, PIECE, f) != PIECE)
				die("fwrite", errno);
		if (fflush(f) != 0)
			die("fflush", errno);
	}
	t1 = now_ns();
	if (fclose(f) != 0)
		die("fclose", errno);
	return (t1 - t0) / (double)flushes;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long flushes = FLUSHES * (argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	double best_h = 1e300, best_s = 1e300;
	char path_h[4096], path_s[4096];
	int r = lu_backend_init();

	if (r < 0)
		die("lu_backend_init", r);
	snprintf(path_h, sizeof path_h, "%s/lu_handle-bench-%d.handle", dir, (int)getpid());
	snprintf(path_s, sizeof path_s, "%s/lu_handle-bench-%d.stdio", dir, (int)getpid());
	for (int rep = 0; rep < REPS; rep++) {
		double h = run_handle(path_h, flushes), s = run_stdio(path_s, flushes);

		if (h < best_h)
			best_h = h;
		if (s < best_s)
			best_s = s;
	}
	unlink(path_h);
	unlink(path_s);
	printf("lu_handle: backend %s, %s, 4 x 1 KiB writes + flush, best of %d x %ld\n",
	       lu_backend()->kind == LU_BACKEND_URING ? "uring" : "posix", dir, REPS, flushes);
	printf("  handle  %8.0f ns/flush\n  stdio   %8.0f ns/flush\n", best_h, best_s);
	return 0;
}
