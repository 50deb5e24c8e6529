/*
 * handle.c - the buffered handle of handle.h.  Every function takes the handle's mutex; the
 * helpers ending in _locked expect it held.
 */
#include "handle.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc's BUFSIZ, its choice when st_blksize says nothing. */
#define LU_HANDLE_DEFAULT_CAP 8192

/* Upstream's getLine reads with fgets into char[64]: at most 63 bytes per chunk. */
#define LU_GETLINE_CHUNK 63

struct lu_handle {
	pthread_mutex_t lock;
	int fd;
	bool readable, writable, owns_fd;
	bool eof;
	enum lu_buffering buffering;
	struct lu_handle *flush_before_read;
	size_t cap;
	char *rbuf;           /* unread input is rbuf[rpos, rlen) */
	size_t rpos, rlen;
	char *wbuf;           /* output waiting for flush is wbuf[0, wlen) */
	size_t wlen;
	struct lu_handle *prev, *next;  /* in g_open, for lu_handle_flush_all */
};

/* Every handle not yet closed, so that exit can flush them all as the C library does. */
static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu_handle *g_open;

static size_t block_size(int fd)
{
	struct statx stx;

	if (lu_ops()->statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 &&
	    stx.stx_blksize > 0)
		return stx.stx_blksize;
	return LU_HANDLE_DEFAULT_CAP;
}

int lu_handle_from_fd(int fd, bool readable, bool writable, enum lu_buffering buffering,
		      bool owns_fd, struct lu_handle **out)
{
	struct lu_handle *h = calloc(1, sizeof *h);

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->fd = fd;
	h->readable = readable;
	h->writable = writable;
	h->owns_fd = owns_fd;
	h->buffering = buffering;
	h->cap = block_size(fd);
	pthread_mutex_lock(&g_open_lock);
	h->next = g_open;
	if (g_open)
		g_open->prev = h;
	g_open = h;
	pthread_mutex_unlock(&g_open_lock);
	*out = h;
	return 0;
}

/* fopen(3)'s mode grammar: r, w, a, then any of + b t x e (glibc's c, m, ccs= are not used). */
static int parse_mode(const char *mode, int *flags, bool *readable, bool *writable)
{
	int acc;

	switch (mode[0]) {
	case 'r': acc = O_RDONLY; *flags = 0; break;
	case 'w': acc = O_WRONLY; *flags = O_CREAT | O_TRUNC; break;
	case 'a': acc = O_WRONLY; *flags = O_CREAT | O_APPEND; break;
	default: return -EINVAL;
	}
	for (const char *m = mode + 1; *m; m++) {
		switch (*m) {
		case '+': acc = O_RDWR; break;
		case 'x': *flags |= O_EXCL; break;
		case 'e': *flags |= O_CLOEXEC; break;
		case 'b': case 't': break;
		default: return -EINVAL;
		}
	}
	*flags |= acc;
	*readable = acc != O_WRONLY;
	*writable = acc != O_RDONLY;
	return 0;
}

int lu_handle_open(const char *path, const char *mode, struct lu_handle **out)
{
	int flags, fd, r;
	bool readable, writable;

	r = parse_mode(mode, &flags, &readable, &writable);
	if (r < 0)
		return r;
	fd = lu_ops()->openat(AT_FDCWD, path, flags, 0666);
	if (fd < 0)
		return fd;
	r = lu_handle_from_fd(fd, readable, writable, LU_BUF_FULL, true, out);
	if (r < 0)
		lu_ops()->close(fd);
	return r;
}

void lu_handle_flush_before_read(struct lu_handle *in, struct lu_handle *out)
{
	pthread_mutex_lock(&in->lock);
	in->flush_before_read = out;
	pthread_mutex_unlock(&in->lock);
}

static int flush_locked(struct lu_handle *h)
{
	ssize_t r;

	if (h->wlen == 0)
		return 0;
	r = lu_write_all(lu_ops(), h->fd, h->wbuf, h->wlen, -1);
	/* Output that failed is dropped, as it is not going to succeed on a retry at close. */
	h->wlen = 0;
	return r < 0 ? (int)r : 0;
}

/*
 * A read is about to block: write out what we owe first, ours (a read-write file) and the
 * linked terminal stdout's.  The linked handle is only ever taken after ours (stdin, then
 * stdout), so the order of the two mutexes is fixed.
 */
static int before_read_syscall_locked(struct lu_handle *h)
{
	int r = flush_locked(h);

	if (h->flush_before_read) {
		struct lu_handle *o = h->flush_before_read;

		pthread_mutex_lock(&o->lock);
		if (o->buffering == LU_BUF_LINE)
			flush_locked(o);
		pthread_mutex_unlock(&o->lock);
	}
	return r;
}

/* One read syscall into the buffer; 0 sets EOF. */
static ssize_t fill_locked(struct lu_handle *h)
{
	ssize_t n;
	int r;

	if (!h->rbuf && !(h->rbuf = malloc(h->cap)))
		return -ENOMEM;
	r = before_read_syscall_locked(h);
	if (r < 0)
		return r;
	n = lu_ops()->read(h->fd, h->rbuf, h->cap);
	if (n < 0)
		return n;
	h->rpos = 0;
	h->rlen = (size_t)n;
	if (n == 0)
		h->eof = true;
	return n;
}

/*
 * Switching from reading to writing: the fd's position is ahead of the reader's by the
 * read-ahead, so step back (lseek is not a ring operation; it is a plain, non-blocking call).
 * Pipes cannot seek and need nothing: their read-ahead is simply kept for later reads.
 */
static void drop_read_ahead_locked(struct lu_handle *h)
{
	if (h->rpos < h->rlen &&
	    lseek(h->fd, -(off_t)(h->rlen - h->rpos), SEEK_CUR) >= 0)
		h->rpos = h->rlen = 0;
}

ssize_t lu_handle_read(struct lu_handle *h, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n = 0;

	pthread_mutex_lock(&h->lock);
	if (!h->readable) {
		pthread_mutex_unlock(&h->lock);
		return -EBADF;
	}
	while (got < len && !h->eof) {
		if (h->rpos < h->rlen) {
			size_t k = h->rlen - h->rpos;

			if (k > len - got)
				k = len - got;
			memcpy((char *)buf + got, h->rbuf + h->rpos, k);
			h->rpos += k;
			got += k;
		} else if (len - got >= h->cap) {
			/* Large reads bypass the buffer, as in glibc. */
			n = before_read_syscall_locked(h);
			if (n < 0)
				break;
			n = lu_ops()->read(h->fd, (char *)buf + got, len - got);
			if (n < 0)
				break;
			if (n == 0)
				h->eof = true;
			got += (size_t)n;
		} else {
			n = fill_locked(h);
			if (n < 0)
				break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return got > 0 || n >= 0 ? (ssize_t)got : n;
}

/*
 * glibc's _IO_new_file_xsputn, so that output reaches the fd in the same pieces (a child
 * writing to the same pipe, or stderr in between, lands at the same place): fill the buffer,
 * write it out when full, write whole blocks directly, keep the rest.  Line buffering also
 * writes out everything up to the last newline.
 */
static int write_locked(struct lu_handle *h, const void *buf, size_t len)
{
	const char *s = buf;
	size_t to_do = len, block = 1;
	bool must_flush = false;
	int r;

	if (!h->writable)
		return -EBADF;
	drop_read_ahead_locked(h);
	if (h->buffering != LU_BUF_NONE) {
		size_t count = h->cap - h->wlen;

		if (!h->wbuf && !(h->wbuf = malloc(h->cap)))
			return -ENOMEM;
		block = h->cap;
		if (h->buffering == LU_BUF_LINE && len <= count) {
			const char *nl = memrchr(s, '\n', len);

			if (nl) {
				count = (size_t)(nl - s) + 1;
				must_flush = true;
			}
		}
		if (count > to_do)
			count = to_do;
		memcpy(h->wbuf + h->wlen, s, count);
		h->wlen += count;
		s += count;
		to_do -= count;
	}
	if (to_do == 0 && !must_flush)
		return 0;
	r = flush_locked(h);
	if (r < 0)
		return r;
	if (to_do > 0) {
		size_t direct = to_do - (block >= 128 ? to_do % block : 0);

		if (direct > 0) {
			ssize_t w = lu_write_all(lu_ops(), h->fd, s, direct, -1);

			if (w < 0)
				return (int)w;
			s += direct;
			to_do -= direct;
		}
		if (to_do > 0) {
			memcpy(h->wbuf + h->wlen, s, to_do);
			h->wlen += to_do;
		}
	}
	return 0;
}

int lu_handle_write(struct lu_handle *h, const void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&h->lock);
	r = write_locked(h, buf, len);
	pthread_mutex_unlock(&h->lock);
	return r;
}

int lu_handle_flush(struct lu_handle *h)
{
	int r;

	pthread_mutex_lock(&h->lock);
	r = flush_locked(h);
	pthread_mutex_unlock(&h->lock);
	return r;
}

bool lu_handle_is_eof(struct lu_handle *h)
{
	bool eof;

	pthread_mutex_lock(&h->lock);
	eof = h->eof;
	pthread_mutex_unlock(&h->lock);
	return eof;
}

static int line_append(struct lu_line *line, const char *s, size_t n)
{
	char *p = realloc(line->data, line->len + n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + line->len, s, n);
	line->data = p;
	line->len += n;
	p[line->len] = '\0';
	return 0;
}

/*
 * One fgets(buf, 64) call: up to 63 bytes, stopping after '\n'.  Returns the chunk's length;
 * 0 means EOF before any byte.
 */
static ssize_t fgets_chunk_locked(struct lu_handle *h, char *chunk)
{
	size_t n = 0;

	while (n < LU_GETLINE_CHUNK) {
		if (h->rpos == h->rlen) {
			ssize_t r = fill_locked(h);

			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		chunk[n] = h->rbuf[h->rpos++];
		if (chunk[n++] == '\n')
			break;
	}
	return (ssize_t)n;
}

int lu_handle_get_line(struct lu_handle *h, struct lu_line *line)
{
	char chunk[LU_GETLINE_CHUNK];
	int r = 0;

	line->data = NULL;
	line->len = 0;
	pthread_mutex_lock(&h->lock);
	if (!h->readable)
		r = -EBADF;
	while (r == 0 && !h->eof) {
		ssize_t n = fgets_chunk_locked(h, chunk);
		size_t text;

		if (n <= 0) {
			r = (int)n;
			break;
		}
		text = strnlen(chunk, (size_t)n);
		r = line_append(line, chunk, text);
		/* Upstream's test: strlen < 63 (short chunk, or cut at a NUL) or a final '\n'. */
		if (text < LU_GETLINE_CHUNK || chunk[LU_GETLINE_CHUNK - 1] == '\n')
			break;
	}
	pthread_mutex_unlock(&h->lock);
	if (r == 0 && !line->data)
		r = line_append(line, "", 0);
	if (r < 0) {
		free(line->data);
		line->data = NULL;
		line->len = 0;
	}
	return r;
}

/*
 * A handle whose mutex is held belongs to a thread that may be blocked in a read forever (a
 * task waiting on stdin while main returns): it is skipped rather than waited for, as glibc's
 * exit flushes without locking.
 */
void lu_handle_flush_all(void)
{
	pthread_mutex_lock(&g_open_lock);
	for (struct lu_handle *h = g_open; h; h = h->next) {
		if (pthread_mutex_trylock(&h->lock) == 0) {
			flush_locked(h);
			pthread_mutex_unlock(&h->lock);
		}
	}
	pthread_mutex_unlock(&g_open_lock);
}

int lu_handle_close(struct lu_handle *h)
{
	int r, c = 0;

	pthread_mutex_lock(&g_open_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		g_open = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&g_open_lock);
	pthread_mutex_lock(&h->lock);
	r = flush_locked(h);
	if (h->owns_fd)
		c = lu_ops()->close(h->fd);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	free(h->rbuf);
	free(h->wbuf);
	free(h);
	return r < 0 ? r : c;
}
