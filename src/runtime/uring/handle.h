/*
 * handle.h - a buffered handle over one fd, performing its IO through lu_ops() (ops.h).
 *
 * This is IO.FS.Handle under the io_uring backend.  Lean programs at the pinned toolchain
 * observe the behaviour of the C stdio FILE behind the POSIX backend, so this handle
 * reproduces it rather than inventing its own:
 *  - EOF is sticky and late, like feof: it becomes true when a read syscall returns 0 while
 *    more bytes were wanted (consuming the last byte is not enough); from then on
 *    lu_handle_read returns 0 bytes and lu_handle_get_line an empty line, forever;
 *  - lu_handle_read(len) keeps reading until len bytes or EOF, like fread;
 *  - lu_handle_get_line reads like upstream's loop of fgets into 64-byte buffers, including
 *    its quirk: a line is cut at the first NUL byte and the rest of that 63-byte chunk is lost;
 *  - writes are buffered (full, line or none), their errors surface at flush; writing to a
 *    handle not opened for writing fails with -EBADF at once, as glibc does (reads likewise);
 *  - full buffers are st_blksize bytes, as glibc chooses, so output reaches the fd at the same
 *    points (which matters when a child process writes to the same pipe or terminal).
 *
 * Handles are shared between Lean tasks and finalized on whichever thread drops the last
 * reference, so every function takes the handle's mutex.  Results are >= 0 or -errno.
 */
#ifndef LU_HANDLE_H
#define LU_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lu_buffering { LU_BUF_FULL, LU_BUF_LINE, LU_BUF_NONE };

struct lu_handle;

/*
 * Open `path` with an fopen(3) mode string ("r", "w", "a", optional "+", and "b"/"t"/"x"/"e"
 * modifiers), creating files with mode 0666 & ~umask as fopen does.  Fully buffered.
 */
int lu_handle_open(const char *path, const char *mode, struct lu_handle **out);

/* Wrap an open fd (a pipe end, a standard stream).  `owns_fd`: close it with the handle. */
int lu_handle_from_fd(int fd, bool readable, bool writable, enum lu_buffering buffering,
		      bool owns_fd, struct lu_handle **out);

/*
 * Before `in` blocks reading, flush `out` if it is line buffered: glibc does this for stdin
 * and a terminal stdout, and it is what makes a prompt without a newline appear.
 */
void lu_handle_flush_before_read(struct lu_handle *in, struct lu_handle *out);

/* Flush every handle not yet closed: what exit(3) does for the C library's streams. */
void lu_handle_flush_all(void);

/* Flush, close the fd if owned, free.  Returns the first error; the handle is gone anyway. */
int lu_handle_close(struct lu_handle *h);

/* Up to len bytes; fewer only at EOF (or before an error, which is then not reported). */
ssize_t lu_handle_read(struct lu_handle *h, void *buf, size_t len);
int lu_handle_write(struct lu_handle *h, const void *buf, size_t len);
int lu_handle_flush(struct lu_handle *h);
bool lu_handle_is_eof(struct lu_handle *h);

/* A line, without NUL bytes, NUL-terminated; free it with free(3). */
struct lu_line {
	char *data;
	size_t len;
};
int lu_handle_get_line(struct lu_handle *h, struct lu_line *line);

#ifdef __cplusplus
}
#endif
#endif
