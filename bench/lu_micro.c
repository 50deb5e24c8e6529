/*
 * lu_micro - what one operation costs on each path, and what queue depth buys.
 *
 *  1. Synchronous ops (one submit + one wait per call, lu_uring_ops) against the same SQE
 *     through liburing and against the plain syscall (lu_posix_ops): a 4 KiB pread from a
 *     cached file, a 1-byte write to /dev/null and to a file, and an IORING_OP_NOP as the floor
 *     of any ring path.  lu_uring minus liburing is what our driver and ops layer add.  The
 *     ops' read and write ask the kernel what the fd is at every call (they know nothing of
 *     it); a handle asks once, so /dev/null is written both ways.  Likewise the ops' pread
 *     asks whether the fd is seekable (an lseek, for pread(2)'s ESPIPE), so the read is also
 *     timed as the bare SQE, which is what liburing's row submits.
 *  2. Batched 4 KiB reads of a cached file at queue depth 1, 8 and 64: our driver
 *     (lu_submit/lu_wait), liburing doing the same, and a plain pread loop.
 *     Then the pread and the /dev/null write again with their fds registered on both rings.
 *  3. What a short-lived thread pays for its ring: a thread that does one 1-byte pipe write
 *     and exits, through the ring (which it must set up and tear down), through a liburing
 *     ring of its own, and as a plain syscall; and a thread that does nothing, the floor.
 *
 * Every figure is the best of REPS runs (the machine is shared, the minimum is the least noisy
 * estimate of the cost).  Usage: lu_micro [scale], scale 1 by default (about 10 s).
 * bench/instr.sh runs it under callgrind for the user-space instructions per call of part 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif

#include "driver.h"
#include "ops.h"

#define REPS 5
#define BLOCK 4096
#define FILE_BLOCKS 4096 /* a 16 MiB file: stays in the page cache */
#define MAX_QD 64

static unsigned scale = 1;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "lu_micro: %s: %s\n", what, strerror((int)(err < 0 ? -err : err)));
	exit(1);
}

/* ---- 1. synchronous ops ---- */

enum sync_op { OP_PREAD, OP_PREAD_SQE, OP_WRITE_NULL, OP_WRITE_NULL_AS, OP_WRITE_FILE, OP_NOP };

struct sync_env {
	int file_fd, null_fd, out_fd;
	bool fixed;  /* liburing: file_fd and null_fd are registered, at indexes 0 and 1 */
	enum lu_fd_class null_class;
	char buf[BLOCK];
};

static long sync_once(const struct lu_ops *ops, enum sync_op op, struct sync_env *e, long i)
{
	struct io_uring_sqe sqe;

	switch (op) {
	case OP_PREAD:
		return ops->pread(e->file_fd, e->buf, BLOCK, (off_t)(i % FILE_BLOCKS) * BLOCK);
	case OP_PREAD_SQE:
		if (ops == &lu_posix_ops)
			return sync_once(ops, OP_PREAD, e, i);
		memset(&sqe, 0, sizeof sqe);
		sqe.opcode = IORING_OP_READ;
		sqe.fd = e->file_fd;
		sqe.addr = (uintptr_t)e->buf;
		sqe.len = BLOCK;
		sqe.off = (uint64_t)(i % FILE_BLOCKS) * BLOCK;
		return lu_run(&sqe);
	case OP_WRITE_NULL:
		return ops->write(e->null_fd, e->buf, 1);
	case OP_WRITE_NULL_AS:
		return lu_write_as(ops, e->null_class, e->null_fd, e->buf, 1);
	case OP_WRITE_FILE:
		return ops->write(e->out_fd, e->buf, 1);
	case OP_NOP:
		if (ops == &lu_posix_ops)
			return 0;
		memset(&sqe, 0, sizeof sqe);
		sqe.opcode = IORING_OP_NOP;
		return lu_run(&sqe);
	}
	return -EINVAL;
}

/* The same operation as one liburing submit-and-wait: the floor for any synchronous ring path. */
static long liburing_once(struct io_uring *ring, enum sync_op op, struct sync_env *e, long i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	long r;

	switch (op) {
	case OP_PREAD:
	case OP_PREAD_SQE:
		io_uring_prep_read(sqe, e->fixed ? 0 : e->file_fd, e->buf, BLOCK,
				   (uint64_t)(i % FILE_BLOCKS) * BLOCK);
		break;
	case OP_WRITE_NULL:
	case OP_WRITE_NULL_AS:
		io_uring_prep_write(sqe, e->fixed ? 1 : e->null_fd, e->buf, 1, (uint64_t)-1);
		break;
	case OP_WRITE_FILE:
		io_uring_prep_write(sqe, e->out_fd, e->buf, 1, (uint64_t)-1);
		break;
	case OP_NOP:
		io_uring_prep_nop(sqe);
		break;
	}
	if (e->fixed && op != OP_NOP)
		sqe->flags |= IOSQE_FIXED_FILE;
	r = io_uring_submit_and_wait(ring, 1);
	if (r < 0)
		return r;
	if ((r = io_uring_peek_cqe(ring, &cqe)) < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

/*
 * Under callgrind (bench/instr.sh) each timed row ends in a dump named "row|path|calls", so
 * that the user-space instructions per call can be read off it; elsewhere this is a no-op.
 */
static void dump_row(const char *row, const char *path, bool fixed, long calls)
{
#ifdef HAVE_CALLGRIND
	char name[160];
	if (row)
		snprintf(name, sizeof name, "%s%s|%s|%ld", fixed ? "registered: " : "", row, path,
			 calls);
	CALLGRIND_DUMP_STATS_AT(row ? name : "warm-up");
#else
	(void)row, (void)path, (void)fixed, (void)calls;
#endif
}

/* Best-of-REPS ns per call, through `ops`, or through liburing when `ring` is given. */
static double time_sync(const struct lu_ops *ops, struct io_uring *ring, enum sync_op op,
			struct sync_env *e, long n, const char *row)
{
	double best = 1e30;

	for (int rep = 0; rep < REPS; rep++) {
		if (op == OP_WRITE_FILE && (ftruncate(e->out_fd, 0) < 0 ||
					    lseek(e->out_fd, 0, SEEK_SET) < 0))
			die("truncate", errno);
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			long r = ring ? liburing_once(ring, op, e, i) : sync_once(ops, op, e, i);
			if (r < 0)
				die(ring ? "liburing" : ops->name, r);
		}
		double per = (now_ns() - t0) / (double)n;
		if (per < best)
			best = per;
	}
	dump_row(row, ring ? "liburing" : ops->name, e->fixed, n * REPS);
	return best;
}

/*
 * The same pread and write with the fd registered (IOSQE_FIXED_FILE) on both rings: what the
 * kernel's fd lookup and reference cost per operation, and that ours saves the same.
 */
static void bench_registered(struct sync_env *e, struct io_uring *ring)
{
	static const enum sync_op ops[] = { OP_PREAD, OP_WRITE_NULL };
	static const char *const names[] = { "pread 4 KiB (cached file)", "write 1 B to /dev/null" };
	int fds[] = { e->file_fd, e->null_fd }, err = 0, r;
	struct lu_driver *d = lu_driver_get(&err);
	double plain[2][2];

	for (int k = 0; k < 2; k++) {
		long n = 100000 * (long)scale;
		plain[k][0] = time_sync(&lu_uring_ops, NULL, ops[k], e, n, names[k]);
		plain[k][1] = time_sync(NULL, ring, ops[k], e, n, names[k]);
	}
	if (!d || (r = io_uring_register_files(ring, fds, 2)) < 0)
		die("registering files", d ? r : err);
	for (int k = 0; k < 2; k++)
		if ((r = lu_register_file(d, fds[k])) < 0)
			die("lu_register_file", r);
	e->fixed = true;
	printf("\nRegistered fds: ns per call (best of %d), plain -> registered\n", REPS);
	printf("  %-28s %19s %19s %12s\n", "operation", "lu_uring", "liburing", "uring/lib");
	for (int k = 0; k < 2; k++) {
		long n = 100000 * (long)scale;
		double u = time_sync(&lu_uring_ops, NULL, ops[k], e, n, names[k]);
		double l = time_sync(NULL, ring, ops[k], e, n, names[k]);
		printf("  %-28s %8.0f -> %6.0f %8.0f -> %6.0f %11.2fx\n", names[k], plain[k][0], u,
		       plain[k][1], l, u / l);
	}
	e->fixed = false;
	for (int k = 0; k < 2; k++)
		lu_unregister_file(d, fds[k]);
	io_uring_unregister_files(ring);
}

static void bench_sync(struct sync_env *e)
{
	static const struct {
		enum sync_op op;
		const char *name;
		long n;
	} rows[] = {
		{ OP_PREAD, "pread 4 KiB (cached file)", 100000 },
		{ OP_PREAD_SQE, "  the same, as the bare SQE", 100000 },
		{ OP_WRITE_NULL, "write 1 B to /dev/null", 100000 },
		{ OP_WRITE_NULL_AS, "  the same, as a handle does", 100000 },
		{ OP_WRITE_FILE, "write 1 B to a file", 100000 },
		{ OP_NOP, "IORING_OP_NOP (ring floor)", 100000 },
	};

	struct io_uring ring;
	struct io_uring_params params = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int r;

	if ((r = io_uring_queue_init_params(64, &ring, &params)) < 0)
		die("io_uring_queue_init_params", r);
	printf("\nSynchronous path: ns per call (best of %d)\n", REPS);
	printf("  %-28s %10s %10s %10s %12s %12s\n", "operation", "lu_uring", "liburing", "syscall",
	       "uring/sys", "uring/lib");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		long n = rows[i].n * (long)scale;
		double u = time_sync(&lu_uring_ops, NULL, rows[i].op, e, n, rows[i].name);
		double l = time_sync(NULL, &ring, rows[i].op, e, n, rows[i].name);
		if (rows[i].op == OP_NOP) {
			printf("  %-28s %10.0f %10.0f %10s %12s %11.2fx\n", rows[i].name, u, l, "-", "-",
			       u / l);
			continue;
		}
		double p = time_sync(&lu_posix_ops, NULL, rows[i].op, e, n, rows[i].name);
		printf("  %-28s %10.0f %10.0f %10.0f %11.2fx %11.2fx\n", rows[i].name, u, l, p, u / p,
		       u / l);
	}
	bench_registered(e, &ring);
	io_uring_queue_exit(&ring);
}

/* ---- 2. batched reads ---- */

static char qbuf[MAX_QD][BLOCK] __attribute__((aligned(4096)));

static void prep_read(struct io_uring_sqe *sqe, int fd, unsigned slot, long blk)
{
	memset(sqe, 0, sizeof *sqe);
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)qbuf[slot];
	sqe->len = BLOCK;
	sqe->off = (uint64_t)(blk % FILE_BLOCKS) * BLOCK;
	sqe->user_data = slot;
}

/* Our driver: keep `qd` reads in flight, refill each slot as its completion is returned. */
static void batch_driver(int fd, unsigned qd, long total)
{
	struct lu_driver *d;
	struct io_uring_sqe sqe;
	struct io_uring_cqe cqe;
	long issued = 0, done = 0;
	int err = 0;

	d = lu_driver_get(&err);
	if (!d)
		die("lu_driver_get", err);
	for (unsigned s = 0; s < qd && issued < total; s++, issued++) {
		prep_read(&sqe, fd, s, issued);
		if ((err = lu_submit(d, &sqe)) < 0)
			die("lu_submit", err);
	}
	while (done < total) {
		if ((err = lu_wait(d, &cqe)) < 0)
			die("lu_wait", err);
		if (cqe.res != BLOCK)
			die("driver read", cqe.res < 0 ? cqe.res : EIO);
		done++;
		if (issued < total) {
			prep_read(&sqe, fd, (unsigned)cqe.user_data, issued++);
			if ((err = lu_submit(d, &sqe)) < 0)
				die("lu_submit", err);
		}
	}
}

/* liburing, written the way its examples are: submit-and-wait, reap everything ready. */
static void batch_liburing(struct io_uring *ring, int fd, unsigned qd, long total)
{
	struct io_uring_cqe *cqe;
	long issued = 0, done = 0;
	int r;

	for (unsigned s = 0; s < qd && issued < total; s++, issued++)
		prep_read(io_uring_get_sqe(ring), fd, s, issued);
	while (done < total) {
		r = io_uring_submit_and_wait(ring, 1);
		if (r < 0 && r != -EINTR)
			die("io_uring_submit_and_wait", r);
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (cqe->res != BLOCK)
				die("liburing read", cqe->res < 0 ? cqe->res : EIO);
			done++;
			seen++;
			if (issued < total)
				prep_read(io_uring_get_sqe(ring), fd, (unsigned)cqe->user_data, issued++);
		}
		io_uring_cq_advance(ring, seen);
	}
}

static void batch_pread(int fd, long total)
{
	for (long i = 0; i < total; i++)
		if (pread(fd, qbuf[0], BLOCK, (off_t)(i % FILE_BLOCKS) * BLOCK) != BLOCK)
			die("pread", errno);
}

static void bench_batch(int fd)
{
	static const unsigned depths[] = { 1, 8, 64 };
	long total = 65536L * scale;
	struct io_uring ring;
	int r;

	if ((r = io_uring_queue_init(MAX_QD * 2, &ring, 0)) < 0)
		die("io_uring_queue_init", r);

	double p = 1e30;
	for (int rep = 0; rep < REPS; rep++) {
		double t0 = now_ns();
		batch_pread(fd, total);
		double per = (now_ns() - t0) / (double)total;
		if (per < p)
			p = per;
	}

	printf("\nBatched 4 KiB reads of a cached 16 MiB file: ns per read (best of %d, %ld reads)\n",
	       REPS, total);
	printf("  %-4s %10s %10s %10s %11s %13s\n", "QD", "driver", "liburing", "pread",
	       "drv/pread", "drv/liburing");
	for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
		unsigned qd = depths[i];
		double dr = 1e30, lr = 1e30;
		for (int rep = 0; rep < REPS; rep++) {
			double t0 = now_ns();
			batch_driver(fd, qd, total);
			double t1 = now_ns();
			batch_liburing(&ring, fd, qd, total);
			double t2 = now_ns();
			if ((t1 - t0) / total < dr)
				dr = (t1 - t0) / total;
			if ((t2 - t1) / total < lr)
				lr = (t2 - t1) / total;
		}
		printf("  %-4u %10.0f %10.0f %10.0f %10.2fx %12.2fx\n", qd, dr, lr, p, dr / p,
		       dr / lr);
	}
	io_uring_queue_exit(&ring);
}

/* ---- 3. short-lived threads ---- */

enum thread_job { JOB_NOTHING, JOB_SYSCALL, JOB_RING, JOB_LIBURING };

struct thread_env {
	enum thread_job job;
	int fd;
	long err;
};

static void *thread_body(void *p)
{
	struct thread_env *t = p;
	struct io_uring ring;
	char c = 'x';
	long r = 0;

	switch (t->job) {
	case JOB_NOTHING:
		break;
	case JOB_SYSCALL:
		r = lu_posix_ops.write(t->fd, &c, 1);
		break;
	case JOB_RING:
		r = lu_uring_ops.write(t->fd, &c, 1);
		break;
	case JOB_LIBURING:
		if ((r = io_uring_queue_init(64, &ring, 0)) < 0)
			break;
		io_uring_prep_write(io_uring_get_sqe(&ring), t->fd, &c, 1, (uint64_t)-1);
		r = io_uring_submit_and_wait(&ring, 1);
		io_uring_queue_exit(&ring);
		break;
	}
	if (r < 0)
		t->err = r;
	return NULL;
}

/* Best-of-REPS µs per thread, from pthread_create to pthread_join, one thread at a time. */
static double time_threads(enum thread_job job, int rfd, int wfd, long n)
{
	struct thread_env t = { job, wfd, 0 };
	char sink[4096];
	double best = 1e30;

	for (int rep = 0; rep < REPS; rep++) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			pthread_t th;
			if (pthread_create(&th, NULL, thread_body, &t) != 0)
				die("pthread_create", errno);
			pthread_join(th, NULL);
			if (job != JOB_NOTHING && read(rfd, sink, sizeof sink) < 0)
				die("read", errno);
		}
		if (t.err < 0)
			die("thread job", t.err);
		double per = (now_ns() - t0) / (double)n / 1000.0;
		if (per < best)
			best = per;
	}
	return best;
}

static void bench_threads(void)
{
	static const struct {
		enum thread_job job;
		const char *name;
	} rows[] = {
		{ JOB_NOTHING, "thread only (floor)" },
		{ JOB_SYSCALL, "1 B pipe write, syscall" },
		{ JOB_RING, "1 B pipe write, our ring" },
		{ JOB_LIBURING, "1 B pipe write, liburing ring" },
	};
	int p[2];
	long n = 500 * (long)scale;

	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe", errno);
	printf("\nShort-lived threads: us per thread, create to join (best of %d, %ld threads)\n",
	       REPS, n);
	double floor = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		double us = time_threads(rows[i].job, p[0], p[1], n);
		if (i == 0)
			floor = us;
		printf("  %-32s %8.1f  (+%.1f over the floor)\n", rows[i].name, us, us - floor);
	}
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	static struct sync_env env;
	char path[] = "/tmp/lu_micro.XXXXXX", out[] = "/tmp/lu_micro_out.XXXXXX";
	char block[BLOCK];

	if (argc > 1 && (scale = (unsigned)atoi(argv[1])) == 0)
		scale = 1;
	env.file_fd = mkstemp(path);
	env.out_fd = mkstemp(out);
	env.null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (env.file_fd < 0 || env.out_fd < 0 || env.null_fd < 0)
		die("setup", errno);
	unlink(path);
	unlink(out);
	for (int i = 0; i < FILE_BLOCKS; i++) {
		memset(block, 'a' + i % 26, sizeof block);
		if (write(env.file_fd, block, sizeof block) != (ssize_t)sizeof block)
			die("write", errno);
	}
	memset(env.buf, 'x', sizeof env.buf);
	int cls = lu_fd_class(env.null_fd);
	if (cls < 0)
		die("lu_fd_class", cls);
	env.null_class = (enum lu_fd_class)cls;

	int err = 0;
	if (!lu_driver_get(&err))
		die("no io_uring ring", err);
	time_sync(&lu_uring_ops, NULL, OP_PREAD, &env, 1000, NULL); /* warm the page cache and the ring */

	char kernel[256] = "?";
	FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		if (fgets(kernel, sizeof kernel, f))
			kernel[strcspn(kernel, "\n")] = 0;
		fclose(f);
	}
	printf("lu_micro: kernel %s, scale %u\n", kernel, scale);
	bench_sync(&env);
	bench_batch(env.file_fd);
	bench_threads();
	return 0;
}
