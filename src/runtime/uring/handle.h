/*
 * handle.h - a buffered handle over one fd, performing its IO through lu_ops() (ops.h).
 *
 * This is IO.FS.Handle under the io_uring backend.  Lean programs at the pinned toolchain
 * observe the behaviour of the C stdio FILE behind the POSIX backend (glibc), so this handle
 * reproduces it rather than inventing its own, down to the calls at which bytes reach the fd
 * (which is what decides how its output interleaves with stderr's, a child's, or anyone's
 * sharing the pipe, terminal or file):
 *  - EOF is sticky and late, like feof: it becomes true when a read syscall returns 0 while
 *    more bytes were wanted (consuming the last byte is not enough); from then on
 *    lu_handle_read returns 0 bytes and lu_handle_get_line an empty line, forever;
 *  - lu_handle_read(len) keeps reading until len bytes or EOF, like fread;
 *  - lu_handle_get_line reads like upstream's loop of fgets into 64-byte buffers, including
 *    its quirk: a line is cut at the first NUL byte and the rest of that 63-byte chunk is lost;
 *  - writes are buffered as fwrite buffers them (one buffer for both directions, glibc's
 *    state machine: handle.c), their errors surface when they reach the fd; writing to a
 *    handle not opened for writing fails with -EBADF at once, as glibc does (reads likewise);
 *  - buffers are st_blksize bytes, at most BUFSIZ (8192), as glibc chooses (a pipe 4096, a
 *    pseudo-terminal 1024);
 *  - by default a terminal's handle is line buffered and any other fully buffered, as
 *    glibc's first read or write decides for every stream (fopen'd /dev/tty included);
 *  - before a line-buffered or unbuffered handle (a terminal) reads the fd into its buffer,
 *    a line-buffered stdout (lu_handle_set_stdout) writes out its pending output, so that a
 *    prompt shows before the program waits; a pipe on stdin does not flush stdout;
 *  - flush writes out pending output and gives unread input back to a seekable fd (the
 *    fd's position moves back to where the reader stopped), as fflush does.
 * Read and write at the current position are the syscall for a regular file, block device or
 * O_NONBLOCK fd, and the ring for other fds (ops.h, lu_fd_class): the class, the buffer size
 * and the buffering are decided once, when the handle is made (one fstat, one F_GETFL); the
 * class again, with one F_GETFL, only after the runtime changed the fd's O_NONBLOCK
 * (lu_fd_set_nonblocking).
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

/* LU_BUF_DEFAULT: glibc's choice, line buffered on a terminal, fully buffered otherwise. */
enum lu_buffering { LU_BUF_DEFAULT, LU_BUF_FULL, LU_BUF_LINE, LU_BUF_NONE };

struct lu_handle;

/*
 * Open `path` with an fopen(3) mode string ("r", "w", "a", optional "+", and "b"/"t"/"x"/"e"
 * modifiers), creating files with mode 0666 & ~umask as fopen does.  Default buffering.
 */
int lu_handle_open(const char *path, const char *mode, struct lu_handle **out);

/*
 * Wrap an open fd (a pipe end, a standard stream).  `owns_fd`: close it with the handle.
 * An fd that is not open gives a handle whose operations fail as the syscalls do (EBADF).
 */
int lu_handle_from_fd(int fd, bool readable, bool writable, enum lu_buffering buffering,
		      bool owns_fd, struct lu_handle **out);

/*
 * The handle that is the process's stdout (glibc's _IO_stdout), flushed before terminal
 * reads; NULL for none.  lu_handle_close forgets it.
 */
void lu_handle_set_stdout(struct lu_handle *h);

/*
 * What exit(3) does for the C library's streams: every open handle writes out its pending
 * output, and every buffered one gives its unread input back to a seekable fd (as flush does).
 */
void lu_handle_flush_all(void);

/* Write out pending output, close the fd if owned, free.  Returns the first error. */
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
