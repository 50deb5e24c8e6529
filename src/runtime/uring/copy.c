/*
 * copy.c - the copy engine; see copy.h.
 *
 * The ring form is a set of chunks, each one block of the file: a chunk reads its block, then
 * writes what it read at the same offset, then is free for the next block.  user_data is the
 * chunk's index.  Reads are issued below the size the source had at the start; past it, only
 * one read at a time probes for growth (and finds the 0-byte read that ends the copy), so a
 * small file does not cost `depth` reads that all return 0.  The first 0-byte read fixes the
 * end: nothing at or beyond it is written, whatever later reads return.
 */
#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"

/* One SQE's len is 32 bits, and the ops layer caps a transfer at 1 GiB. */
#define LU_COPY_MAX_BLOCK (1u << 30)

/*
 * Registering a file and removing it again costs two io_uring_register calls, which a copy of
 * this many blocks or more pays back (each of its operations skips an fd lookup and a reference
 * count); a smaller copy runs on the plain fds.
 */
#define LU_COPY_FIXED_MIN_BLOCKS 16

struct chunk {
	char *buf;
	uint64_t off;    /* where the block starts, in both files */
	uint32_t want;   /* bytes to read */
	uint32_t got;    /* bytes read so far */
	uint32_t put;    /* bytes of `got` written so far */
	bool writing;
};

struct copy {
	struct lu_driver *d;
	int in, out;
	uint32_t block;
	struct chunk *chunks;
	unsigned *free_list, nfree;
	uint64_t next_off;      /* the next block to read */
	uint64_t size_hint;     /* the source's size at the start; UINT64_MAX once it grew */
	uint64_t eof;           /* offset of the first 0-byte read; UINT64_MAX until then */
	unsigned inflight, reads_inflight;
	int err;
	struct lu_copy_result *res;
};

static void fail(struct copy *c, int err, enum lu_copy_side side)
{
	if (c->err)
		return;
	c->err = err;
	c->res->failed = side;
}

static void submit(struct copy *c, unsigned i)
{
	struct chunk *k = &c->chunks[i];
	struct io_uring_sqe sqe;

	memset(&sqe, 0, sizeof sqe);
	if (k->writing) {
		sqe.opcode = IORING_OP_WRITE;
		sqe.fd = c->out;
		sqe.addr = (uintptr_t)(k->buf + k->put);
		sqe.len = k->got - k->put;
		sqe.off = k->off + k->put;
	} else {
		sqe.opcode = IORING_OP_READ;
		sqe.fd = c->in;
		sqe.addr = (uintptr_t)(k->buf + k->got);
		sqe.len = k->want - k->got;
		sqe.off = k->off + k->got;
	}
	sqe.user_data = i;
	int err = lu_submit(c->d, &sqe);
	if (err < 0) {
		fail(c, err, k->writing ? LU_COPY_DST : LU_COPY_SRC);
		c->free_list[c->nfree++] = i;
		return;
	}
	c->inflight++;
	c->reads_inflight += !k->writing;
	if (c->inflight > c->res->max_inflight)
		c->res->max_inflight = c->inflight;
}

static void start_read(struct copy *c)
{
	unsigned i = c->free_list[--c->nfree];
	struct chunk *k = &c->chunks[i];

	k->off = c->next_off;
	k->want = c->block;
	k->got = k->put = 0;
	k->writing = false;
	c->next_off += c->block;
	submit(c, i);
}

/* The chunk's read is complete: write what lies before the end of the file. */
static void start_write(struct copy *c, unsigned i)
{
	struct chunk *k = &c->chunks[i];

	if (k->off >= c->eof) {
		c->free_list[c->nfree++] = i;
		return;
	}
	if (k->got > c->eof - k->off)
		k->got = (uint32_t)(c->eof - k->off);
	k->writing = true;
	submit(c, i);
}

static void complete(struct copy *c, unsigned i, int r)
{
	struct chunk *k = &c->chunks[i];

	c->inflight--;
	c->reads_inflight -= !k->writing;
	if (c->err) {
		c->free_list[c->nfree++] = i;
		return;
	}
	if (r == -EINTR || r == -EAGAIN) {
		submit(c, i);
		return;
	}
	if (r < 0 || (k->writing && r == 0)) {
		fail(c, r < 0 ? r : -EIO, k->writing ? LU_COPY_DST : LU_COPY_SRC);
		c->free_list[c->nfree++] = i;
		return;
	}
	if (k->writing) {
		k->put += (uint32_t)r;
		c->res->bytes += (uint32_t)r;
		if (k->put < k->got)
			submit(c, i);
		else
			c->free_list[c->nfree++] = i;
		return;
	}
	if (r == 0) {
		if (k->off + k->got < c->eof)
			c->eof = k->off + k->got;
	} else {
		k->got += (uint32_t)r;
		if (k->off + k->got > c->size_hint)
			c->size_hint = UINT64_MAX;
	}
	if (r > 0 && k->got < k->want && k->off + k->got < c->eof)
		submit(c, i);
	else if (k->got > 0)
		start_write(c, i);
	else
		c->free_list[c->nfree++] = i;
}

static int copy_ring(int in, int out, uint64_t size, uint32_t block, unsigned depth,
		     struct lu_copy_result *res)
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);

	if (!d)
		return err;
	if (lu_inflight(d) != 0)
		return -EBUSY;

	/* Enough chunks for the whole file plus the probe past its end, at most `depth`. */
	uint64_t blocks = size / block + 1;
	unsigned n = blocks < depth ? (unsigned)blocks : depth;
	struct copy c = {
		.d = d, .in = in, .out = out, .block = block,
		.size_hint = size, .eof = UINT64_MAX, .res = res,
	};
	c.chunks = calloc(n, sizeof *c.chunks);
	c.free_list = calloc(n, sizeof *c.free_list);
	char *bufs = malloc((size_t)n * block);
	if (!c.chunks || !c.free_list || !bufs) {
		free(c.chunks);
		free(c.free_list);
		free(bufs);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		c.chunks[i].buf = bufs + (size_t)i * block;
		c.free_list[c.nfree++] = n - 1 - i;
	}

	/* The caller's own registrations are kept; those made here end with the copy. */
	bool fixed_in = false, fixed_out = false;
	if (blocks >= LU_COPY_FIXED_MIN_BLOCKS) {
		fixed_in = !lu_file_registered(d, in) && lu_register_file(d, in) == 0;
		fixed_out = !lu_file_registered(d, out) && lu_register_file(d, out) == 0;
	}
	res->registered = lu_file_registered(d, in) && lu_file_registered(d, out);

	for (;;) {
		while (!c.err && c.nfree > 0 && c.next_off < c.eof &&
		       (c.next_off < c.size_hint || c.reads_inflight == 0))
			start_read(&c);
		if (c.inflight == 0)
			break;
		struct io_uring_cqe cqe;
		err = lu_wait(d, &cqe);
		if (err < 0) {
			/*
			 * Completions were lost (-EBADR) or the ring failed: operations may still be
			 * in the kernel, so their buffers are leaked rather than freed under it.
			 */
			return err;
		}
		complete(&c, (unsigned)cqe.user_data, cqe.res);
	}
	if (fixed_in)
		lu_unregister_file(d, in);
	if (fixed_out)
		lu_unregister_file(d, out);
	free(bufs);
	free(c.chunks);
	free(c.free_list);
	return c.err;
}

static int copy_loop(const struct lu_ops *ops, int in, int out, uint32_t block,
		     struct lu_copy_result *res)
{
	char *buf = malloc(block);

	if (!buf)
		return -ENOMEM;
	res->max_inflight = 1;
	int err = 0;
	for (off_t off = 0;; off += block) {
		ssize_t n = lu_read_full(ops, in, buf, block, off);
		if (n < 0) {
			err = (int)n;
			res->failed = LU_COPY_SRC;
			break;
		}
		if (n > 0) {
			ssize_t w = lu_write_all(ops, out, buf, (size_t)n, off);
			if (w < 0) {
				err = (int)w;
				res->failed = LU_COPY_DST;
				break;
			}
			res->bytes += (uint64_t)n;
		}
		if ((uint32_t)n < block)
			break;
	}
	free(buf);
	return err;
}

static const struct lu_ops *ops_of(const struct lu_copy_opts *o)
{
	return o && o->ops ? o->ops : lu_ops();
}

/* The source's size; -EISDIR for a directory, as read(2) would say. */
static int source_stat(const struct lu_ops *ops, int in, struct statx *st)
{
	int r = ops->statx(in, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_SIZE, st);

	if (r < 0)
		return r;
	return S_ISDIR(st->stx_mode) ? -EISDIR : 0;
}

/*
 * Opening the destination truncates it, so a destination that is the source (the same path,
 * or a hard or symbolic link to it) would lose the data before it is read: refused, as cp(1)
 * refuses it.
 */
static int same_file(const struct lu_ops *ops, const char *dst, const struct statx *src)
{
	struct statx st;

	if (ops->statx(AT_FDCWD, dst, 0, STATX_INO, &st) < 0)
		return 0;
	return st.stx_ino == src->stx_ino && st.stx_dev_major == src->stx_dev_major &&
	       st.stx_dev_minor == src->stx_dev_minor;
}

/* Both backends position every transfer, which a pipe or socket cannot honour. */
static int seekable(int fd)
{
	return lseek(fd, 0, SEEK_CUR) < 0 ? -errno : 0;
}

static int copy_checked(int in, int out, uint64_t size, const struct lu_copy_opts *o,
			struct lu_copy_result *res)
{
	const struct lu_ops *ops = ops_of(o);
	unsigned depth = o && o->depth ? o->depth : LU_COPY_DEFAULT_DEPTH;
	unsigned block = o && o->block ? o->block : LU_COPY_DEFAULT_BLOCK;
	int r;

	if (block > LU_COPY_MAX_BLOCK)
		return -EINVAL;
	if ((r = seekable(in)) < 0)
		return r;
	if ((r = seekable(out)) < 0) {
		res->failed = LU_COPY_DST;
		return r;
	}
	if (ops == &lu_uring_ops)
		return copy_ring(in, out, size, block, depth, res);
	return copy_loop(ops, in, out, block, res);
}

int lu_copy_fd(int in, int out, const struct lu_copy_opts *o, struct lu_copy_result *res)
{
	struct lu_copy_result ignored;
	struct statx st;

	if (!res)
		res = &ignored;
	memset(res, 0, sizeof *res);
	int r = source_stat(ops_of(o), in, &st);
	return r < 0 ? r : copy_checked(in, out, st.stx_size, o, res);
}

int lu_copy_file(const char *src, const char *dst, const struct lu_copy_opts *o,
		 struct lu_copy_result *res)
{
	const struct lu_ops *ops = ops_of(o);
	struct lu_copy_result ignored;
	struct statx st;

	if (!res)
		res = &ignored;
	memset(res, 0, sizeof *res);
	int in = ops->openat(AT_FDCWD, src, O_RDONLY | O_CLOEXEC, 0);
	if (in < 0)
		return in;
	int r = source_stat(ops, in, &st);
	if (r == 0 && same_file(ops, dst, &st)) {
		r = -EINVAL;
		res->failed = LU_COPY_DST;
	}
	if (r == 0) {
		int out = ops->openat(AT_FDCWD, dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (out < 0) {
			r = out;
			res->failed = LU_COPY_DST;
		} else {
			r = copy_checked(in, out, st.stx_size, o, res);
			int c = ops->close(out);
			if (r == 0 && c < 0) {
				r = c;
				res->failed = LU_COPY_DST;
			}
		}
	}
	ops->close(in);
	return r;
}
