/*
 * handle.c - the buffered handle of handle.h.  Every function takes the handle's mutex; the
 * helpers ending in _locked expect it held.
 *
 * The buffer follows glibc's FILE state for state (libio/fileops.c and genops.c, 2.36; each
 * helper names the function it follows), because only the same states write the same bytes
 * at the same calls.  One buffer serves both directions:
 *  - get mode: unread input is buf[rpos, rend), and the fd's position is that of rend;
 *  - put mode (`putting`): pending output is buf[wbase, wpos), and plain copies may fill it
 *    up to wend: the buffer's end when fully buffered, but wbase when line buffered or
 *    unbuffered, so that every byte of those passes overflow_locked, which writes at '\n'.
 * A writer that follows a reader starts at the reader's rpos and steps the fd back over the
 * unread input only when its bytes reach the fd (do_write_locked).  Offsets stand for glibc's
 * pointers; before the buffer exists, every offset is 0.
 */
#include "handle.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* glibc's BUFSIZ: the buffer size when st_blksize says nothing, and the largest. */
#define LU_HANDLE_MAX_CAP 8192

/* Upstream's getLine reads with fgets into char[64]: at most 63 bytes per chunk. */
#define LU_GETLINE_CHUNK 63

struct lu_handle {
	pthread_mutex_t lock;
	int fd;
	enum lu_fd_class fd_class;
	mode_t mode;                  /* from fstat; 0 when fstat failed */
	uint32_t nonblock_changes;    /* lu_fd_nonblock_changes when fd_class was decided */
	bool readable, writable, owns_fd;
	bool appending;               /* O_APPEND: the kernel places every write */
	bool eof;
	bool putting;
	enum lu_buffering buffering;  /* never LU_BUF_DEFAULT */
	size_t cap;                   /* the buffer to allocate */
	char *buf;                    /* NULL until the first read or write */
	size_t size;                  /* buf's size: cap, or 1 for short_buf */
	size_t rpos, rend;
	size_t wbase, wpos, wend;
	char short_buf[1];            /* an unbuffered handle's buffer, glibc's _shortbuf */
	struct lu_handle *prev, *next;  /* in g_open, for lu_handle_flush_all */
};

/* Every handle not yet closed, so that exit can flush them all as the C library does. */
static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu_handle *g_open;

/*
 * glibc's _IO_stdout.  A reader takes g_stdout_lock after its own mutex and stdout's mutex
 * before letting go of g_stdout_lock, so stdout cannot be freed in between (lu_handle_close
 * clears g_stdout under g_stdout_lock before it takes the handle's mutex).
 */
static pthread_mutex_t g_stdout_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu_handle *g_stdout;

/*
 * What glibc's _IO_file_doallocate decides at a stream's first read or write, decided here
 * once (the fd stays what it is): st_blksize bytes of buffer, but at most BUFSIZ; line
 * buffering on a terminal unless the caller chose.  And what the operations need: the fd's
 * class and whether the kernel appends.  An fd that fstat rejects keeps BUFSIZ and the
 * syscall, which then fails exactly as under POSIX.
 */
static void classify(struct lu_handle *h, enum lu_buffering buffering)
{
	struct stat st;
	int fl;

	h->cap = LU_HANDLE_MAX_CAP;
	h->fd_class = LU_FD_SYSCALL;
	h->buffering = buffering == LU_BUF_DEFAULT ? LU_BUF_FULL : buffering;
	if (fstat(h->fd, &st) < 0)
		return;
	if (st.st_blksize > 0 && st.st_blksize < LU_HANDLE_MAX_CAP)
		h->cap = (size_t)st.st_blksize;
	if (buffering == LU_BUF_DEFAULT && S_ISCHR(st.st_mode) && isatty(h->fd))
		h->buffering = LU_BUF_LINE;
	h->nonblock_changes = lu_fd_nonblock_changes(h->fd);
	fl = fcntl(h->fd, F_GETFL);
	if (fl >= 0) {
		h->mode = st.st_mode;
		h->appending = (fl & O_APPEND) != 0;
		h->fd_class = lu_fd_class_of(st.st_mode, fl);
	}
}

/*
 * The class for the next read or write: the one classify decided, unless the runtime has
 * changed the fd's O_NONBLOCK since (lu_fd_set_nonblocking), which only then costs an F_GETFL.
 */
static enum lu_fd_class class_locked(struct lu_handle *h)
{
	uint32_t changes = lu_fd_nonblock_changes(h->fd);

	if (changes != h->nonblock_changes && h->mode != 0) {
		int fl = fcntl(h->fd, F_GETFL);

		h->nonblock_changes = changes;
		if (fl >= 0)
			h->fd_class = lu_fd_class_of(h->mode, fl);
	}
	return h->fd_class;
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
	classify(h, buffering);
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
	r = lu_handle_from_fd(fd, readable, writable, LU_BUF_DEFAULT, true, out);
	if (r < 0)
		lu_ops()->close(fd);
	return r;
}

void lu_handle_set_stdout(struct lu_handle *h)
{
	pthread_mutex_lock(&g_stdout_lock);
	g_stdout = h;
	pthread_mutex_unlock(&g_stdout_lock);
}

/* _IO_doallocbuf: an unbuffered handle, or one whose malloc failed, works through one byte. */
static void alloc_locked(struct lu_handle *h)
{
	if (h->buf)
		return;
	if (h->buffering != LU_BUF_NONE && (h->buf = malloc(h->cap))) {
		h->size = h->cap;
	} else {
		h->buf = h->short_buf;
		h->size = 1;
	}
}

/*
 * _IO_new_file_write: until done.  A write that makes no progress and reports no error (which
 * glibc would retry forever) is the I/O error lu_write_all reports too.
 */
static int write_fd(struct lu_handle *h, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = lu_write_as(lu_ops(), class_locked(h), h->fd, data, len);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * new_do_write: `data` reaches the fd at the stream's position, which is behind the fd's by
 * the unread input of a reader turned writer.  Then the buffer is empty, even when the write
 * failed: output that failed is dropped, as glibc drops it (a failed seek keeps it).
 */
static int do_write_locked(struct lu_handle *h, const char *data, size_t len)
{
	int r;

	if (!h->appending && h->rend != h->wbase &&
	    lseek(h->fd, (off_t)h->wbase - (off_t)h->rend, SEEK_CUR) < 0)
		return -errno;
	r = write_fd(h, data, len);
	h->rpos = h->rend = 0;
	h->wbase = h->wpos = 0;
	h->wend = h->buffering == LU_BUF_FULL ? h->size : 0;
	return r;
}

/* _IO_do_flush: with no pending output nothing happens, not even the reset of the buffer. */
static int write_pending_locked(struct lu_handle *h)
{
	if (h->wpos == h->wbase)
		return 0;
	return do_write_locked(h, h->buf + h->wbase, h->wpos - h->wbase);
}

/*
 * _IO_new_file_overflow: enter put mode if not in it, then write out the pending output
 * (ch < 0), or store ch: after writing out a full buffer, and followed by writing out the
 * buffer when unbuffered, or line buffered and ch is '\n'.
 */
static int overflow_locked(struct lu_handle *h, int ch)
{
	int r;

	if (!h->writable)
		return -EBADF;
	if (!h->putting) {
		if (!h->buf) {
			alloc_locked(h);
			h->rpos = h->rend = 0;
		}
		/* A reader at the end of the buffer has consumed it all: write from the start. */
		if (h->rpos == h->size)
			h->rpos = h->rend = 0;
		h->wbase = h->wpos = h->rpos;
		h->wend = h->buffering == LU_BUF_FULL ? h->size : h->wpos;
		h->rpos = h->rend;
		h->putting = true;
	}
	if (ch < 0)
		return write_pending_locked(h);
	if (h->wpos == h->size && (r = write_pending_locked(h)) < 0)
		return r;
	h->buf[h->wpos++] = (char)ch;
	if (h->buffering == LU_BUF_NONE || (h->buffering == LU_BUF_LINE && ch == '\n'))
		return write_pending_locked(h);
	return 0;
}

/* _IO_switch_to_get_mode: pending output goes out; reading resumes where writing stopped. */
static int switch_to_get_mode_locked(struct lu_handle *h)
{
	int r;

	if (h->wpos > h->wbase && (r = overflow_locked(h, -1)) < 0)
		return r;
	if (h->wpos > h->rend)
		h->rend = h->wpos;
	h->rpos = h->wbase = h->wend = h->wpos;
	h->putting = false;
	return 0;
}

/*
 * _IO_new_file_underflow's courtesy to terminals: before a line-buffered or unbuffered handle
 * reads the fd, a line-buffered stdout writes out its pending output (its errors are its
 * own: they are not this read's).  Lock order: the reader's mutex, g_stdout_lock, stdout's
 * mutex.  When the reader is stdout, its output went out on its way into get mode.
 */
static void flush_stdout_locked(struct lu_handle *h)
{
	struct lu_handle *o;

	pthread_mutex_lock(&g_stdout_lock);
	o = g_stdout;
	if (o && o != h)
		pthread_mutex_lock(&o->lock);
	pthread_mutex_unlock(&g_stdout_lock);
	if (!o || o == h)
		return;
	if (o->writable && o->buffering == LU_BUF_LINE)
		overflow_locked(o, -1);
	pthread_mutex_unlock(&o->lock);
}

/*
 * __underflow, then _IO_new_file_underflow: make sure unread input is buffered, reading the
 * fd once if there is none.  Returns the bytes available, 0 at EOF, or -errno.  A handle
 * that cannot read fails here, after its switch to get mode, as in glibc.
 */
static ssize_t underflow_locked(struct lu_handle *h)
{
	ssize_t n;
	int r;

	if (h->putting && (r = switch_to_get_mode_locked(h)) < 0)
		return r;
	if (h->rpos < h->rend)
		return (ssize_t)(h->rend - h->rpos);
	if (h->eof)
		return 0;
	if (!h->readable)
		return -EBADF;
	alloc_locked(h);
	if (h->buffering != LU_BUF_FULL)
		flush_stdout_locked(h);
	h->rpos = h->rend = 0;
	h->wbase = h->wpos = h->wend = 0;
	n = lu_read_as(lu_ops(), class_locked(h), h->fd, h->buf, h->size);
	if (n < 0)
		return n;
	if (n == 0)
		h->eof = true;
	h->rend = (size_t)n;
	return n;
}

/*
 * _IO_file_xsgetn: through the buffer, except that once it is empty, whole blocks go from
 * the fd straight to the caller.  On that path glibc drops pending output (C leaves output
 * followed by input without a flush undefined); it is written out first instead.
 */
static ssize_t read_locked(struct lu_handle *h, char *s, size_t n)
{
	size_t want = n;
	ssize_t r = 0;

	if (!h->readable) {
		r = underflow_locked(h);
		return r < 0 ? r : -EBADF;
	}
	alloc_locked(h);
	while (want > 0) {
		size_t have = h->rend - h->rpos, count;

		if (have >= want) {
			memcpy(s, h->buf + h->rpos, want);
			h->rpos += want;
			want = 0;
			break;
		}
		if (have > 0) {
			memcpy(s, h->buf + h->rpos, have);
			h->rpos += have;
			s += have;
			want -= have;
		}
		if (want < h->size) {
			if ((r = underflow_locked(h)) <= 0)
				break;
			continue;
		}
		if (h->wpos > h->wbase && (r = overflow_locked(h, -1)) < 0)
			break;
		h->rpos = h->rend = 0;
		h->wbase = h->wpos = h->wend = 0;
		count = want - (h->size >= 128 ? want % h->size : 0);
		r = lu_read_as(lu_ops(), class_locked(h), h->fd, s, count);
		if (r <= 0) {
			if (r == 0)
				h->eof = true;
			break;
		}
		s += r;
		want -= (size_t)r;
	}
	return want < n || r >= 0 ? (ssize_t)(n - want) : r;
}

ssize_t lu_handle_read(struct lu_handle *h, void *buf, size_t len)
{
	ssize_t r = 0;

	if (len == 0)
		return 0;
	pthread_mutex_lock(&h->lock);
	if (!h->eof)
		r = read_locked(h, buf, len);
	pthread_mutex_unlock(&h->lock);
	return r;
}

/* _IO_default_xsputn: what fits is copied, and every byte beyond goes through overflow. */
static int put_bytes_locked(struct lu_handle *h, const char *s, size_t more)
{
	int r;

	for (;;) {
		if (h->wpos < h->wend) {
			size_t count = h->wend - h->wpos;

			if (count > more)
				count = more;
			memcpy(h->buf + h->wpos, s, count);
			h->wpos += count;
			s += count;
			more -= count;
		}
		if (more == 0)
			return 0;
		if ((r = overflow_locked(h, (unsigned char)*s++)) < 0)
			return r;
		more--;
	}
}

/*
 * _IO_new_file_xsputn: fill the buffer; when the bytes do not all fit, or a line-buffered
 * write holds a newline, write out the buffer, then whole blocks straight from the caller,
 * and put the rest byte by byte (which, line buffered, writes at every newline).  A
 * line-buffered handle counts its free space only in put mode, so its first write, fresh or
 * after reading, finds none: whole blocks go straight to the fd.
 */
static int write_locked(struct lu_handle *h, const char *s, size_t n)
{
	size_t to_do = n, count = 0, direct;
	bool must_flush = false;
	int r;

	if (h->buffering == LU_BUF_LINE && h->putting) {
		count = h->size - h->wpos;
		if (count >= n) {
			const char *nl = memrchr(s, '\n', n);

			if (nl) {
				count = (size_t)(nl - s) + 1;
				must_flush = true;
			}
		}
	} else if (h->wend > h->wpos) {
		count = h->wend - h->wpos;
	}
	if (count > 0) {
		if (count > to_do)
			count = to_do;
		memcpy(h->buf + h->wpos, s, count);
		h->wpos += count;
		s += count;
		to_do -= count;
	}
	if (to_do == 0 && !must_flush)
		return 0;
	if ((r = overflow_locked(h, -1)) < 0)
		return r;
	direct = to_do - (h->size >= 128 ? to_do % h->size : 0);
	if (direct > 0) {
		if ((r = do_write_locked(h, s, direct)) < 0)
			return r;
		s += direct;
		to_do -= direct;
	}
	return to_do > 0 ? put_bytes_locked(h, s, to_do) : 0;
}

int lu_handle_write(struct lu_handle *h, const void *buf, size_t len)
{
	int r;

	if (len == 0)
		return 0;
	pthread_mutex_lock(&h->lock);
	r = write_locked(h, buf, len);
	pthread_mutex_unlock(&h->lock);
	return r;
}

/*
 * _IO_new_file_sync: pending output goes out, and unread input goes back to a seekable fd
 * (the fd steps back over it), so that whoever reads the fd next starts where this reader
 * stopped.  Unseekable fds keep their input buffered.
 */
static int sync_locked(struct lu_handle *h)
{
	int r;

	if (h->wpos > h->wbase && (r = write_pending_locked(h)) < 0)
		return r;
	if (h->rpos != h->rend) {
		if (lseek(h->fd, (off_t)h->rpos - (off_t)h->rend, SEEK_CUR) >= 0)
			h->rend = h->rpos;
		else if (errno != ESPIPE)
			return -errno;
	}
	return 0;
}

int lu_handle_flush(struct lu_handle *h)
{
	int r;

	pthread_mutex_lock(&h->lock);
	r = sync_locked(h);
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
 * One fgets(buf, 64) call, as _IO_getline takes it from the buffer: up to 63 bytes, through
 * the first '\n'.  Returns the chunk's length; 0 means EOF before any byte.
 */
static ssize_t fgets_chunk_locked(struct lu_handle *h, char *chunk)
{
	size_t n = 0;

	while (n < LU_GETLINE_CHUNK) {
		size_t len = h->rend - h->rpos;
		const char *nl;

		if (len == 0) {
			ssize_t r = underflow_locked(h);

			if (r <= 0) {
				if (r < 0)
					return r;
				break;
			}
			continue;
		}
		if (len > LU_GETLINE_CHUNK - n)
			len = LU_GETLINE_CHUNK - n;
		nl = memchr(h->buf + h->rpos, '\n', len);
		if (nl)
			len = (size_t)(nl - (h->buf + h->rpos)) + 1;
		memcpy(chunk + n, h->buf + h->rpos, len);
		h->rpos += len;
		n += len;
		if (nl)
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
 * exit(3)'s _IO_cleanup: pending output goes out, then every buffered stream is synced (its
 * unread input given back to a seekable fd: `{ prog; cat; } <file` has cat start where prog
 * stopped reading).  A handle whose mutex is held belongs to a thread that may be blocked in
 * a read forever (a task waiting on stdin while main returns): it is skipped rather than
 * waited for, as glibc's exit flushes without locking.
 */
void lu_handle_flush_all(void)
{
	pthread_mutex_lock(&g_open_lock);
	for (struct lu_handle *h = g_open; h; h = h->next) {
		if (pthread_mutex_trylock(&h->lock) == 0) {
			if (h->wpos > h->wbase)
				overflow_locked(h, -1);
			if (h->buffering != LU_BUF_NONE)
				sync_locked(h);
			pthread_mutex_unlock(&h->lock);
		}
	}
	pthread_mutex_unlock(&g_open_lock);
}

/* _IO_new_file_close_it: output pending in put mode goes out; unread input is not given back. */
int lu_handle_close(struct lu_handle *h)
{
	int r = 0, c = 0;

	pthread_mutex_lock(&g_open_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		g_open = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&g_open_lock);
	pthread_mutex_lock(&g_stdout_lock);
	if (g_stdout == h)
		g_stdout = NULL;
	pthread_mutex_unlock(&g_stdout_lock);
	pthread_mutex_lock(&h->lock);
	if (h->writable && h->putting)
		r = write_pending_locked(h);
	if (h->owns_fd)
		c = lu_ops()->close(h->fd);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	if (h->buf != h->short_buf)
		free(h->buf);
	free(h);
	return r < 0 ? r : c;
}
