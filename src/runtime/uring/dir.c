/*
 * dir.c - lu_read_dir: openat and close through the backend, getdents64 in between.
 */
#include "dir.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct linux_dirent64; glibc declares it only as struct dirent64. */
struct lu_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int list(int fd, int (*each)(void *ctx, const char *name), void *ctx)
{
	/* long: getdents64 wants the buffer aligned for the 8-byte fields of its records. */
	long buf[4096 / sizeof(long)];

	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct lu_dirent64 *d = (struct lu_dirent64 *)((char *)buf + off);
			int r;

			off += d->d_reclen;
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			r = each(ctx, d->d_name);
			if (r != 0)
				return r;
		}
	}
}

int lu_read_dir(const char *path, int (*each)(void *ctx, const char *name), void *ctx)
{
	const struct lu_ops *ops = lu_ops();
	int fd = ops->openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int r, c;

	if (fd < 0)
		return fd;
	r = list(fd, each, ctx);
	c = ops->close(fd);
	return r != 0 ? r : c;
}
