/*
 * pbuf.h - provided-buffer rings (IORING_REGISTER_PBUF_RING), per thread and buffer group.
 *
 * A group is `entries` buffers of `size` bytes that the engine picks from for an operation
 * with IOSQE_BUFFER_SELECT and the group's id in buf_group (a multishot recv, ops.h): its CQE
 * carries IORING_CQE_F_BUFFER and the buffer id in flags >> IORING_CQE_BUFFER_SHIFT.  The
 * buffer is then the caller's until it gives it back with lu_pbuf_recycle, which it should do
 * as soon as the bytes are consumed: a group with no buffer left ends a multishot recv with a
 * final -ENOBUFS, and the caller recycles, then arms it again.
 *
 * The engine is the table's (slots.h): on the ring the group is registered with the kernel;
 * under the emulation (emu.h) it is registered with the emulation, which picks buffers with
 * the same ids in the same order and runs dry in the same way.  Either way the buffer ring is
 * the same memory (struct io_uring_buf_ring), recycled by a release store of its tail.
 *
 * A group belongs to the thread that made it.  Groups still registered at thread exit go after
 * the thread's table (lu_slots_release), so no operation can pick a buffer from freed memory.
 */
#ifndef LU_PBUF_H
#define LU_PBUF_H

#include <stdint.h>

#include "slots.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lu_pbuf;

/*
 * Make and register group `bgid` on `t`'s engine: `entries` a power of two up to 32,768,
 * `size` > 0.  0 and *out, or -EINVAL (arguments), -EEXIST (the group exists on this engine),
 * -ENOMEM, or -EOPNOTSUPP when the kernel has no buffer rings (Linux < 5.19): use plain recv.
 */
int lu_pbuf_new(struct lu_slots *t, uint16_t bgid, unsigned entries, unsigned size,
		struct lu_pbuf **out);
/*
 * Unregister and free `p`.  No operation that may pick from it may be in flight (cancel and
 * reap them first); buffers lent out are gone with it.
 */
void lu_pbuf_free(struct lu_pbuf *p);

uint16_t lu_pbuf_group(const struct lu_pbuf *p);
unsigned lu_pbuf_size(const struct lu_pbuf *p);
/* The buffer a completion with IORING_CQE_F_BUFFER names: its id, and its bytes. */
unsigned lu_pbuf_id(uint32_t cqe_flags);
void *lu_pbuf_buf(const struct lu_pbuf *p, unsigned bid);
/* Give buffer `bid` back to the engine: it may be picked as soon as this returns. */
void lu_pbuf_recycle(struct lu_pbuf *p, unsigned bid);

#ifdef __cplusplus
}
#endif
#endif
