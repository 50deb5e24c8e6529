/*
 * files.h - a ring's registered files: a sparse table in the kernel, and which fd holds which
 * slot of it.
 *
 * An operation on a registered file (IOSQE_FIXED_FILE, the slot's index in sqe->fd) skips the
 * kernel's fd lookup and its reference count on every operation; the descriptors of a long copy
 * and of a server's connections are worth registering, a file read once is not (registering and
 * removing are one io_uring_register each).
 *
 * The table is registered with the kernel lazily, at the first lu_files_add, with `entries`
 * empty slots (IORING_RSRC_REGISTER_SPARSE, Linux 5.19), at most RLIMIT_NOFILE's soft limit:
 * the kernel refuses a larger table with -EMFILE.  A refused table (an old kernel, the limit)
 * refuses every later add with the same error, and a full one with -ENFILE; either way the
 * caller goes on with the plain fd, and results are the same.
 *
 * A slot holds its own reference to the file: a socket closed while registered stays open in
 * the kernel (no FIN, no EOF for the peer) until its slot is cleared, and a reused fd number
 * would reach the old file.  So every close must clear the slot first: the driver does it for
 * IORING_OP_CLOSE, and the runtime's other close paths call lu_forget_file (driver.h).
 *
 * Not thread-safe: a table belongs to its driver's thread, like the ring.
 */
#ifndef LU_FILES_H
#define LU_FILES_H

#include <linux/io_uring.h>
#include <stdint.h>

#include "ring.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LU_FILES_DEFAULT_ENTRIES 4096

struct lu_files {
	int32_t *slot_of;      /* by fd: its slot, or -1 */
	unsigned slot_of_len;
	int32_t *fd_of;        /* by slot: its fd, or -1 */
	unsigned entries;      /* slots registered with the kernel; 0 before the first add */
	unsigned used;
	unsigned hint;         /* where the search for a free slot starts */
	int refused;           /* -errno once the kernel refused the table, else 0 */
};

/*
 * Table size for rings that register their first file from now on: 0 disables registration
 * (every add is refused with -EOPNOTSUPP), anything else is used as given, even above
 * RLIMIT_NOFILE (tests force the kernel's refusal with it).  The default is
 * LU_FILES_DEFAULT_ENTRIES, capped at the soft RLIMIT_NOFILE.
 */
void lu_files_set_entries(unsigned entries);

void lu_files_init(struct lu_files *f);
/* Frees the bookkeeping; the kernel's table goes with the ring. */
void lu_files_free(struct lu_files *f);

/* Register `fd` in a free slot: 0 (also when it already has one), or -errno. */
int lu_files_add(struct lu_files *f, const struct lu_ring *r, int fd);
/* Clear `fd`'s slot: 0, -ENOENT if it has none, or the kernel's -errno (the slot is kept). */
int lu_files_remove(struct lu_files *f, const struct lu_ring *r, int fd);
/*
 * `fd` is being closed: its slot is cleared.  If the kernel will not clear it, its file stays
 * there until the slot is handed out again (or the ring goes), but the fd number is plain from
 * now on either way, so a file that reuses it is never reached through the old slot.
 */
void lu_files_forget(struct lu_files *f, const struct lu_ring *r, int fd);
/* `fd`'s slot, or -1. */
int lu_files_slot(const struct lu_files *f, int fd);

/*
 * Rewrite `sqe` to use the registered file if its opcode takes a file in sqe->fd and that fd
 * has a slot.  Opcodes whose sqe->fd is a directory (openat, statx...), or that name a second
 * file elsewhere (splice), are left alone.
 */
void lu_files_fix(const struct lu_files *f, struct io_uring_sqe *sqe);

#ifdef __cplusplus
}
#endif
#endif
