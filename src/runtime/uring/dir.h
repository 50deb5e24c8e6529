/*
 * dir.h - listing a directory.
 *
 * io_uring has no getdents operation, so the directory is opened (and closed) through
 * lu_ops() and its entries are read with the getdents64 syscall, in the kernel's order, which
 * is the order readdir(3) returns them in under the POSIX backend.
 */
#ifndef LU_DIR_H
#define LU_DIR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Call `each(ctx, name)` for every entry of `path` except "." and "..".  A non-zero return
 * from `each` stops the listing and is returned.  Otherwise 0, or -errno.
 */
int lu_read_dir(const char *path, int (*each)(void *ctx, const char *name), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
