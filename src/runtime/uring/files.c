/*
 * files.c - a ring's registered files; see files.h.
 */
#include "files.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>

/* UINT_MAX: the default, capped at the fd limit. */
static atomic_uint table_entries = UINT32_MAX;

void lu_files_set_entries(unsigned entries)
{
	atomic_store(&table_entries, entries);
}

void lu_files_init(struct lu_files *f)
{
	*f = (struct lu_files){ 0 };
}

void lu_files_free(struct lu_files *f)
{
	free(f->slot_of);
	free(f->fd_of);
	lu_files_init(f);
}

static unsigned wanted_entries(void)
{
	unsigned n = atomic_load(&table_entries);
	if (n != UINT32_MAX)
		return n;
	struct rlimit rl;
	n = LU_FILES_DEFAULT_ENTRIES;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	return n;
}

static int register_table(struct lu_files *f, const struct lu_ring *r)
{
	unsigned n = wanted_entries();
	if (n == 0)
		return -EOPNOTSUPP;
	int32_t *fd_of = malloc(n * sizeof(*fd_of));
	if (!fd_of)
		return -ENOMEM;
	struct io_uring_rsrc_register rr = { .nr = n, .flags = IORING_RSRC_REGISTER_SPARSE };
	int ret = lu_ring_register(r, IORING_REGISTER_FILES2, &rr, sizeof(rr));
	if (ret < 0) {
		free(fd_of);
		return ret;
	}
	for (unsigned i = 0; i < n; i++)
		fd_of[i] = -1;
	f->fd_of = fd_of;
	f->entries = n;
	return 0;
}

/* Room in slot_of for `fd`. */
static int grow_map(struct lu_files *f, int fd)
{
	if ((unsigned)fd < f->slot_of_len)
		return 0;
	unsigned len = f->slot_of_len ? f->slot_of_len : 64;
	while (len <= (unsigned)fd)
		len *= 2;
	int32_t *m = realloc(f->slot_of, len * sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (unsigned i = f->slot_of_len; i < len; i++)
		m[i] = -1;
	f->slot_of = m;
	f->slot_of_len = len;
	return 0;
}

static int update_slot(const struct lu_ring *r, unsigned slot, int fd)
{
	int32_t fds[1] = { fd };
	struct io_uring_files_update up = { .offset = slot, .fds = (uintptr_t)fds };
	int ret = lu_ring_register(r, IORING_REGISTER_FILES_UPDATE, &up, 1);
	return ret < 0 ? ret : 0;
}

int lu_files_slot(const struct lu_files *f, int fd)
{
	if (fd < 0 || (unsigned)fd >= f->slot_of_len)
		return -1;
	return f->slot_of[fd];
}

int lu_files_add(struct lu_files *f, const struct lu_ring *r, int fd)
{
	if (fd < 0)
		return -EBADF;
	if (lu_files_slot(f, fd) >= 0)
		return 0;
	if (f->refused)
		return f->refused;
	if (f->entries == 0) {
		int err = register_table(f, r);
		if (err < 0) {
			f->refused = err;
			return err;
		}
	}
	if (f->used == f->entries)
		return -ENFILE;
	int err = grow_map(f, fd);
	if (err < 0)
		return err;
	unsigned slot = f->hint;
	while (f->fd_of[slot] >= 0)
		slot = (slot + 1) % f->entries;
	if ((err = update_slot(r, slot, fd)) < 0)
		return err;
	f->fd_of[slot] = fd;
	f->slot_of[fd] = (int32_t)slot;
	f->used++;
	f->hint = (slot + 1) % f->entries;
	return 0;
}

static void clear(struct lu_files *f, int slot, int fd)
{
	f->fd_of[slot] = -1;
	f->slot_of[fd] = -1;
	f->used--;
}

int lu_files_remove(struct lu_files *f, const struct lu_ring *r, int fd)
{
	int slot = lu_files_slot(f, fd);
	if (slot < 0)
		return -ENOENT;
	int err = update_slot(r, (unsigned)slot, -1);
	if (err == 0)
		clear(f, slot, fd);
	return err;
}

/* A slot the kernel kept is free all the same: the next add's update replaces its file. */
void lu_files_forget(struct lu_files *f, const struct lu_ring *r, int fd)
{
	int slot = lu_files_slot(f, fd);
	if (slot < 0)
		return;
	update_slot(r, (unsigned)slot, -1);
	clear(f, slot, fd);
}

/* Opcodes whose sqe->fd is the one file they act on. */
static bool takes_file(uint8_t opcode)
{
	switch (opcode) {
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
	case IORING_OP_FSYNC:
	case IORING_OP_RECV:
	case IORING_OP_SEND:
	case IORING_OP_RECVMSG:
	case IORING_OP_SENDMSG:
	case IORING_OP_ACCEPT:
	case IORING_OP_CONNECT:
	case IORING_OP_SHUTDOWN:
	case IORING_OP_POLL_ADD:
	case IORING_OP_FALLOCATE:
	case IORING_OP_FADVISE:
	case IORING_OP_SYNC_FILE_RANGE:
		return true;
	default:
		return false;
	}
}

void lu_files_fix(const struct lu_files *f, struct io_uring_sqe *sqe)
{
	if (sqe->flags & IOSQE_FIXED_FILE || !takes_file(sqe->opcode))
		return;
	int slot = lu_files_slot(f, sqe->fd);
	if (slot < 0)
		return;
	sqe->fd = slot;
	sqe->flags |= IOSQE_FIXED_FILE;
}
