/*
 * pbuf.c - provided-buffer rings; see pbuf.h.
 *
 * The buffer ring's tail is ours and its head the engine's (the kernel keeps it private):
 * a recycled buffer is written at the tail's entry first, then the tail is published with a
 * release store, so that an engine that reads the tail with acquire sees the entry whole.  The
 * tail overlays the first entry's resv field, which the kernel never reads.
 */
#include "pbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "driver.h"
#include "emu.h"

#define MAX_ENTRIES 32768u

struct lu_pbuf {
	struct io_uring_buf_ring *br;
	size_t br_len;
	char *bufs;
	unsigned entries, size;
	uint16_t bgid;
	uint16_t tail;
	enum lu_slots_engine engine;
	uint64_t serial;          /* the table it was made on (the emulated engine's owner) */
	struct lu_pbuf *next;     /* this thread's groups */
};

static _Thread_local struct lu_pbuf *groups;
static _Thread_local bool exit_hook_set;

extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso);
extern void *__dso_handle;

/*
 * Thread-exit destructors run in the reverse order of their registration, and this one is
 * registered after the table's (a group needs a table), so it runs first: it ends the table
 * itself, whose teardown waits for every operation that may still pick a buffer.
 */
static void on_thread_exit(void *unused)
{
	(void)unused;
	lu_slots_release();
	while (groups)
		lu_pbuf_free(groups);
}

static void add(struct lu_pbuf *p, unsigned bid)
{
	struct io_uring_buf *b = &p->br->bufs[p->tail & (p->entries - 1)];
	b->addr = (uintptr_t)(p->bufs + (size_t)bid * p->size);
	b->len = p->size;
	b->bid = (uint16_t)bid;
	p->tail++;
}

static void publish(struct lu_pbuf *p)
{
	__atomic_store_n(&p->br->tail, p->tail, __ATOMIC_RELEASE);
}

static int engine_register(struct lu_slots *t, struct lu_pbuf *p)
{
	if (p->engine == LU_SLOTS_EMULATED)
		return lu_emu_register_pbuf(lu_slots_emu(t), p->bgid, p->br, p->entries);
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d)
		return err;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)p->br, .ring_entries = p->entries, .bgid = p->bgid,
	};
	err = lu_driver_register(d, IORING_REGISTER_PBUF_RING, &reg, 1);
	return err == -EINVAL ? -EOPNOTSUPP : err;  /* the arguments were checked: an old kernel */
}

/* The emulation goes with its table: a group of an earlier table is registered nowhere. */
static void engine_unregister(struct lu_pbuf *p)
{
	if (p->engine == LU_SLOTS_EMULATED) {
		struct lu_slots *t = lu_slots_current();
		if (t && lu_slots_serial(t) == p->serial)
			lu_emu_unregister_pbuf(lu_slots_emu(t), p->bgid);
		return;
	}
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	struct io_uring_buf_reg reg = { .bgid = p->bgid };
	if (d)
		lu_driver_register(d, IORING_UNREGISTER_PBUF_RING, &reg, 1);
}

int lu_pbuf_new(struct lu_slots *t, uint16_t bgid, unsigned entries, unsigned size,
		struct lu_pbuf **out)
{
	if (entries == 0 || entries > MAX_ENTRIES || (entries & (entries - 1)) || size == 0 ||
	    (size_t)entries * size > SIZE_MAX / 2)
		return -EINVAL;
	if (!exit_hook_set) {
		if (__cxa_thread_atexit_impl(on_thread_exit, NULL, &__dso_handle) != 0)
			return -ENOMEM;
		exit_hook_set = true;
	}
	struct lu_pbuf *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->br_len = entries * sizeof(struct io_uring_buf);
	/* The kernel wants the ring page-aligned: an anonymous mapping is. */
	p->br = mmap(NULL, p->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p->bufs = malloc((size_t)entries * size);
	if (p->br == MAP_FAILED || !p->bufs) {
		if (p->br != MAP_FAILED)
			munmap(p->br, p->br_len);
		free(p->bufs);
		free(p);
		return -ENOMEM;
	}
	p->entries = entries;
	p->size = size;
	p->bgid = bgid;
	p->engine = lu_slots_engine_of(t);
	p->serial = lu_slots_serial(t);
	for (unsigned bid = 0; bid < entries; bid++)
		add(p, bid);
	publish(p);
	int err = engine_register(t, p);
	if (err < 0) {
		munmap(p->br, p->br_len);
		free(p->bufs);
		free(p);
		return err;
	}
	p->next = groups;
	groups = p;
	*out = p;
	return 0;
}

void lu_pbuf_free(struct lu_pbuf *p)
{
	for (struct lu_pbuf **q = &groups; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			break;
		}
	}
	engine_unregister(p);
	munmap(p->br, p->br_len);
	free(p->bufs);
	free(p);
}

uint16_t lu_pbuf_group(const struct lu_pbuf *p)
{
	return p->bgid;
}

unsigned lu_pbuf_size(const struct lu_pbuf *p)
{
	return p->size;
}

unsigned lu_pbuf_id(uint32_t cqe_flags)
{
	return cqe_flags >> IORING_CQE_BUFFER_SHIFT;
}

void *lu_pbuf_buf(const struct lu_pbuf *p, unsigned bid)
{
	return p->bufs + (size_t)(bid & (p->entries - 1)) * p->size;
}

void lu_pbuf_recycle(struct lu_pbuf *p, unsigned bid)
{
	add(p, bid & (p->entries - 1));
	publish(p);
}
