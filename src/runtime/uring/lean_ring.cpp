/*
 * lean_ring.cpp - the Lean side of IO.Ring (src/Init/IO/Ring.lean): the Lean ABI of the typed
 * ring API, over the C core's slot table (slots.h).  Owners in slots are lean_objects (buffers,
 * paths), released with lean_dec; everything else about in-flight memory is slots.c's.
 *
 * A Ring value records the serial of the table it was made for; every operation checks that
 * the calling thread's table is that one, so a ring moved to another thread (or outliving its
 * thread) fails cleanly instead of submitting to a ring it does not own.
 */
#include "lean_io.h"

#include "backend.h"
#include "driver.h"
#include "ops.h"
#include "pbuf.h"
#include "slots.h"

#include <lean/io.h>
#include <lean/thread.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" lean_object *mk_io_user_error(lean_object *str);

namespace {

/* How a completion is turned into a Cqe, stored as the slot's kind. */
enum kind : uint32_t {
	KIND_PLAIN,      /* no owner */
	KIND_FILL,       /* owner 0: a ByteArray the kernel wrote res bytes past its size into */
	KIND_GIVE,       /* owner 0: a ByteArray the kernel read */
	KIND_PATH,       /* owner 0 (and 1, if set): path Strings, of no use afterwards */
	KIND_STATX,      /* owner 0: the path; owner 1: a ByteArray holding the struct statx */
	KIND_PICKED,     /* no owner: the kernel picked a buffer of the thread's group */
};

/* One SQE moves at most 1 GiB, as in ops.h. */
const size_t max_len = size_t(1) << 30;

thread_local bool t_finalizer_registered = false;

struct ring {
	uint64_t serial;
};

void ring_finalize(void *p)
{
	delete static_cast<ring *>(p);
}

void ring_foreach(void *, b_lean_obj_arg)
{
}

void release_owner(void *owner)
{
	lean_dec(static_cast<lean_object *>(owner));
}

/* Before the thread's Lean heap goes (Lean runs thread finalizers last-registered first). */
void release_at_thread_end(void *)
{
	lu_slots_release();
}

lean_obj_res user_error(const std::string &msg)
{
	return lean_io_result_mk_error(mk_io_user_error(lean_mk_string(msg.c_str())));
}

/* The blocking API's IO.Error for this errno (lean_io.h); shared with lean_net.cpp. */
lean_object *error_of(int neg_errno, b_lean_obj_arg fname)
{
	return lean_uring_errno_error(neg_errno, fname);
}

lean_obj_res io_error(int neg_errno)
{
	return lean_io_result_mk_error(error_of(neg_errno, nullptr));
}

lean_obj_res ok_unit()
{
	return lean_io_result_mk_ok(lean_box(0));
}

int fd_of(b_lean_obj_arg i)
{
	return lean_uring_fd_of(i);
}

/* This thread's table if `r` belongs to it; else an error result in *err. */
lu_slots *table_of(b_lean_obj_arg r, lean_obj_res *err)
{
	lu_slots *t = lu_slots_current();
	uint64_t serial = static_cast<ring *>(lean_get_external_data(r))->serial;

	if (t && lu_slots_serial(t) == serial)
		return t;
	*err = user_error("IO.Ring: this ring belongs to another thread (rings are single-issuer: "
			  "call IO.Ring.current on the thread that uses it)");
	return nullptr;
}

io_uring_sqe sqe_of(uint8_t opcode, int fd)
{
	io_uring_sqe sqe = {};
	sqe.opcode = opcode;
	sqe.fd = fd;
	return sqe;
}

/* Prepare a slot holding `a` and `b`, let `fill` complete the SQE, and submit it. */
template <class Fill>
lean_obj_res submit(b_lean_obj_arg r, uint64_t user_data, uint32_t kind, unsigned flags,
		    lean_object *a, lean_object *b, Fill fill)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);
	int slot = t ? lu_slots_prepare(t, user_data, kind, flags) : -1;

	if (slot < 0) {
		if (a)
			lean_dec(a);
		if (b)
			lean_dec(b);
		return t ? io_error(slot) : err;
	}
	void **owners = lu_slots_owners(t, slot);
	owners[0] = a;
	owners[1] = b;
	io_uring_sqe sqe = fill(lu_slots_scratch(t, slot));
	int e = lu_slots_submit(t, slot, &sqe);
	if (e < 0) {
		if (a)
			lean_dec(a);
		if (b)
			lean_dec(b);
		return io_error(e);
	}
	return ok_unit();
}

/* The kernel writes into [size, capacity): nobody else may see that, so a shared buffer is copied. */
lean_obj_res fill_op(b_lean_obj_arg r, uint8_t opcode, int fd, lean_obj_arg buf, uint64_t off,
		     uint32_t msg_flags, uint64_t user_data)
{
	if (!lean_is_exclusive(buf))
		buf = lean_copy_byte_array(buf);
	return submit(r, user_data, KIND_FILL, 0, buf, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(opcode, fd);
		size_t size = lean_sarray_size(buf), spare = lean_sarray_capacity(buf) - size;
		sqe.addr = reinterpret_cast<uintptr_t>(lean_sarray_cptr(buf) + size);
		sqe.len = static_cast<uint32_t>(spare < max_len ? spare : max_len);
		sqe.off = off;
		sqe.msg_flags = msg_flags;
		return sqe;
	});
}

lean_obj_res give_op(b_lean_obj_arg r, uint8_t opcode, int fd, lean_obj_arg buf, uint64_t off,
		     uint32_t msg_flags, uint64_t user_data)
{
	return submit(r, user_data, KIND_GIVE, 0, buf, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(opcode, fd);
		size_t size = lean_sarray_size(buf);
		sqe.addr = reinterpret_cast<uintptr_t>(lean_sarray_cptr(buf));
		sqe.len = static_cast<uint32_t>(size < max_len ? size : max_len);
		sqe.off = off;
		sqe.msg_flags = msg_flags;
		return sqe;
	});
}

/* IO.Ring.Held: `none` is a scalar, `buffer` and `stat` have one field each. */
lean_object *held(unsigned tag, lean_object *o)
{
	lean_object *h = lean_alloc_ctor(tag, 1, 0);

	lean_ctor_set(h, 0, o);
	return h;
}

/* IO.Ring.Stat: metadata, then the scalars ino : UInt64, mode nlink : UInt32. */
lean_object *mk_stat(const struct statx *st)
{
	lean_object *s = lean_alloc_ctor(0, 1, sizeof(uint64_t) + 2 * sizeof(uint32_t));

	lean_ctor_set(s, 0, lean_uring_mk_metadata(st));
	lean_ctor_set_uint64(s, sizeof(void *), st->stx_ino);
	lean_ctor_set_uint32(s, sizeof(void *) + sizeof(uint64_t), st->stx_mode);
	lean_ctor_set_uint32(s, sizeof(void *) + sizeof(uint64_t) + sizeof(uint32_t), st->stx_nlink);
	return s;
}

/*
 * The buffer group of this thread's multishot recvs (pbuf.h): made at the first, on the
 * thread's table, and kept until the thread ends.  Each completion's bytes are copied into a
 * ByteArray of their own and the buffer is recycled at once, so no connection holds a buffer
 * for longer than one delivery and one slow reader cannot starve the others of buffers.
 */
const uint16_t group_id = 0x8000;
const unsigned group_entries = 256, group_size = 16384;
thread_local lu_pbuf *t_group = nullptr;
thread_local uint64_t t_group_table = 0;

/* The group, for table `t`; a group of an earlier table of the thread goes first. */
int group_for(lu_slots *t, lu_pbuf **out)
{
	if (t_group && t_group_table != lu_slots_serial(t)) {
		lu_pbuf_free(t_group);
		t_group = nullptr;
	}
	if (!t_group) {
		int e = lu_pbuf_new(t, group_id, group_entries, group_size, &t_group);
		if (e < 0)
			return e;
		t_group_table = lu_slots_serial(t);
	}
	*out = t_group;
	return 0;
}

/* The bytes of the buffer the kernel picked, as a fresh ByteArray; the buffer goes back. */
lean_object *picked(const lu_slot_cqe *c)
{
	if (!(c->flags & IORING_CQE_F_BUFFER) || !t_group)
		return lean_box(0);
	unsigned bid = lu_pbuf_id(c->flags);
	size_t n = c->res > 0 ? static_cast<size_t>(c->res) : 0;
	lean_object *a = lean_alloc_sarray(1, n, n);
	memcpy(lean_sarray_cptr(a), lu_pbuf_buf(t_group, bid), n);
	lu_pbuf_recycle(t_group, bid);
	return held(1, a);
}

lean_object *held_of(const lu_slot_cqe *c)
{
	lean_object *a = static_cast<lean_object *>(c->owner[0]);
	lean_object *b = static_cast<lean_object *>(c->owner[1]);

	switch (c->kind) {
	case KIND_FILL:
		if (c->res > 0)
			lean_sarray_set_size(a, lean_sarray_size(a) + static_cast<size_t>(c->res));
		return held(1, a);
	case KIND_GIVE:
		return held(1, a);
	case KIND_STATX: {
		lean_dec(a);
		lean_object *h = lean_box(0);
		if (c->res == 0)
			h = held(2, mk_stat(reinterpret_cast<struct statx *>(lean_sarray_cptr(b))));
		lean_dec(b);
		return h;
	}
	case KIND_PICKED:
		return picked(c);
	case KIND_PATH:
		lean_dec(a);
		if (b)
			lean_dec(b);
		return lean_box(0);
	default:
		return lean_box(0);
	}
}

/* IO.Ring.Cqe: objects res and held, then the scalars userData (8 bytes) and flags (4). */
void deliver(void *ctx, const lu_slot_cqe *c)
{
	lean_object **out = static_cast<lean_object **>(ctx);
	lean_object *o = lean_alloc_ctor(0, 2, sizeof(uint64_t) + sizeof(uint32_t));

	lean_ctor_set(o, 0, lean_int64_to_int(c->res));
	lean_ctor_set(o, 1, held_of(c));
	lean_ctor_set_uint64(o, 2 * sizeof(void *), c->user_data);
	lean_ctor_set_uint32(o, 2 * sizeof(void *) + sizeof(uint64_t), c->flags);
	*out = lean_array_push(*out, o);
}

lean_obj_res wait(b_lean_obj_arg r, bool block)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);

	if (!t)
		return err;
	lean_object *out = lean_mk_empty_array();
	int n = lu_slots_wait(t, block, deliver, &out);
	if (n < 0 && lean_array_size(out) == 0) {
		lean_dec(out);
		return io_error(n);
	}
	return lean_io_result_mk_ok(out);
}

lean_obj_res fd_pair(int a, int b)
{
	lean_object *p = lean_alloc_ctor(0, 2, 0);

	lean_ctor_set(p, 0, lean_int_to_int(a));
	lean_ctor_set(p, 1, lean_int_to_int(b));
	return lean_io_result_mk_ok(p);
}

const char *const scheduler_busy =
	"IO.Ring: a fiber scheduler runs on this thread (Fiber.run does not nest, and owns the "
	"thread's ring while it runs: fork fibers, or use Fiber.submit)";

thread_local bool t_scheduler = false;

/* This thread's table, made with `engine` if it has none yet. */
lu_slots *table_for(lu_slots_engine engine, int *err)
{
	lu_slots *t = lu_slots_get(release_owner, engine, err);
	if (t && !t_finalizer_registered) {
		lean::register_thread_finalizer(release_at_thread_end, nullptr);
		t_finalizer_registered = true;
	}
	return t;
}

lean_obj_res cannot_set_up(int e)
{
	char why[96];
	lu_describe_errno(why, sizeof why, -e);
	return user_error(std::string("IO.Ring: this thread cannot set up its ring: ") + why);
}

lean_obj_res ring_object(lu_slots *t)
{
	static lean_external_class *const ring_class =
		lean_register_external_class(ring_finalize, ring_foreach);
	return lean_io_result_mk_ok(lean_alloc_external(ring_class, new ring{lu_slots_serial(t)}));
}

} // namespace

extern "C" lean_obj_res lean_io_ring_current(lean_obj_arg)
{
	if (!lean_uring_enabled()) {
		const char *why = lu_backend()->reason;
		return user_error(std::string("IO.Ring needs the io_uring backend, and this process "
					      "runs on posix") + (why && *why ? std::string("; backend reason: ") + why : ""));
	}
	if (t_scheduler)
		return user_error(scheduler_busy);
	int e = 0;
	lu_slots *t = table_for(LU_SLOTS_RING, &e);
	if (t && lu_slots_engine_of(t) != LU_SLOTS_RING)
		return user_error("IO.Ring: this thread has no ring (it could not set one up, and its "
				  "fibers run on the posix emulation)");
	return t ? ring_object(t) : cannot_set_up(e);
}

/*
 * A scheduler's completions are the scheduler's: one taken by another waiter on the thread (a
 * nested Fiber.run, a direct IO.Ring user) would leave a fiber parked for ever, so the thread's
 * table serves one of them at a time.
 */
extern "C" lean_obj_res lean_io_ring_for_scheduler(lean_obj_arg)
{
	if (t_scheduler)
		return user_error(scheduler_busy);
	int e = 0;
	lu_slots *t = nullptr;
	if (lean_uring_enabled()) {
		t = table_for(LU_SLOTS_RING, &e);
		/* Under auto, a thread without a ring falls back as its blocking IO does (lu_ops). */
		if (!t && !lu_backend_is_forced() && lu_ops() == &lu_posix_ops)
			t = table_for(LU_SLOTS_EMULATED, &e);
	} else {
		t = table_for(LU_SLOTS_EMULATED, &e);
	}
	if (!t)
		return cannot_set_up(e);
	t_scheduler = true;
	return ring_object(t);
}

extern "C" lean_obj_res lean_io_ring_end_scheduler(b_lean_obj_arg, lean_obj_arg)
{
	t_scheduler = false;
	return ok_unit();
}

extern "C" lean_obj_res lean_io_ring_nop(b_lean_obj_arg r, uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr,
		      [](lu_slot_scratch *) { return sqe_of(IORING_OP_NOP, 0); });
}

extern "C" lean_obj_res lean_io_ring_read(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					  uint64_t ud, lean_obj_arg)
{
	return fill_op(r, IORING_OP_READ, fd_of(fd), buf, UINT64_MAX, 0, ud);
}

extern "C" lean_obj_res lean_io_ring_read_at(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					     uint64_t off, uint64_t ud, lean_obj_arg)
{
	return fill_op(r, IORING_OP_READ, fd_of(fd), buf, off, 0, ud);
}

extern "C" lean_obj_res lean_io_ring_write(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					   uint64_t ud, lean_obj_arg)
{
	return give_op(r, IORING_OP_WRITE, fd_of(fd), buf, UINT64_MAX, 0, ud);
}

extern "C" lean_obj_res lean_io_ring_write_at(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					      uint64_t off, uint64_t ud, lean_obj_arg)
{
	return give_op(r, IORING_OP_WRITE, fd_of(fd), buf, off, 0, ud);
}

extern "C" lean_obj_res lean_io_ring_recv(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					  uint32_t flags, uint64_t ud, lean_obj_arg)
{
	return fill_op(r, IORING_OP_RECV, fd_of(fd), buf, 0, flags, ud);
}

/*
 * One submission, a CQE per chunk received (IORING_CQE_F_MORE on all but the last), each
 * chunk's bytes taken from the thread's buffer group.
 */
extern "C" lean_obj_res lean_io_ring_recv_multishot(b_lean_obj_arg r, b_lean_obj_arg fd,
						    uint32_t flags, uint64_t ud, lean_obj_arg)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);
	if (!t)
		return err;
	lu_pbuf *g;
	int e = group_for(t, &g);
	if (e < 0)
		return io_error(e);
	return submit(r, ud, KIND_PICKED, 0, nullptr, nullptr, [&](lu_slot_scratch *) {
		return lu_sqe_recv_multishot(fd_of(fd), lu_pbuf_group(g), static_cast<int>(flags));
	});
}

extern "C" lean_obj_res lean_io_ring_send(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg buf,
					  uint32_t flags, uint64_t ud, lean_obj_arg)
{
	return give_op(r, IORING_OP_SEND, fd_of(fd), buf, 0, flags, ud);
}

/*
 * An operation on one path (openat, mkdirat, unlinkat): the kernel reads the path when it takes
 * the SQE, in the next wait, so the slot keeps it alive.  `fill` sets the opcode's own fields.
 */
template <class Fill>
lean_obj_res submit_path(b_lean_obj_arg r, uint64_t ud, unsigned flags, uint8_t op,
			 b_lean_obj_arg dirfd, b_lean_obj_arg path, Fill fill)
{
	lean_inc(path);
	return submit(r, ud, KIND_PATH, flags, path, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(op, fd_of(dirfd));
		sqe.addr = reinterpret_cast<uintptr_t>(lean_string_cstr(path));
		fill(sqe);
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_open_at(b_lean_obj_arg r, b_lean_obj_arg dirfd,
					     b_lean_obj_arg path, uint32_t flags, uint32_t mode,
					     uint64_t ud, lean_obj_arg)
{
	return submit_path(r, ud, LU_SLOT_FD_RESULT, IORING_OP_OPENAT, dirfd, path,
			   [&](io_uring_sqe &sqe) {
				   sqe.open_flags = flags;
				   sqe.len = mode;
			   });
}

extern "C" lean_obj_res lean_io_ring_close(b_lean_obj_arg r, b_lean_obj_arg fd, uint64_t ud,
					   lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr,
		      [&](lu_slot_scratch *) { return sqe_of(IORING_OP_CLOSE, fd_of(fd)); });
}

extern "C" lean_obj_res lean_io_ring_statx(b_lean_obj_arg r, b_lean_obj_arg dirfd,
					   b_lean_obj_arg path, uint32_t flags, uint32_t mask,
					   uint64_t ud, lean_obj_arg)
{
	lean_object *out = lean_alloc_sarray(1, 0, sizeof(struct statx));

	lean_inc(path);
	return submit(r, ud, KIND_STATX, 0, path, out, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_STATX, fd_of(dirfd));
		sqe.addr = reinterpret_cast<uintptr_t>(lean_string_cstr(path));
		sqe.statx_flags = flags;
		sqe.len = mask;
		sqe.addr2 = reinterpret_cast<uintptr_t>(lean_sarray_cptr(out));
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_fsync(b_lean_obj_arg r, b_lean_obj_arg fd, uint8_t datasync,
					   uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_FSYNC, fd_of(fd));
		sqe.fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_mkdir_at(b_lean_obj_arg r, b_lean_obj_arg dirfd,
					      b_lean_obj_arg path, uint32_t mode, uint64_t ud,
					      lean_obj_arg)
{
	return submit_path(r, ud, 0, IORING_OP_MKDIRAT, dirfd, path,
			   [&](io_uring_sqe &sqe) { sqe.len = mode; });
}

extern "C" lean_obj_res lean_io_ring_unlink_at(b_lean_obj_arg r, b_lean_obj_arg dirfd,
					       b_lean_obj_arg path, uint32_t flags, uint64_t ud,
					       lean_obj_arg)
{
	return submit_path(r, ud, 0, IORING_OP_UNLINKAT, dirfd, path,
			   [&](io_uring_sqe &sqe) { sqe.unlink_flags = flags; });
}

extern "C" lean_obj_res lean_io_ring_rename_at(b_lean_obj_arg r, b_lean_obj_arg old_dir,
					       b_lean_obj_arg old_path, b_lean_obj_arg new_dir,
					       b_lean_obj_arg new_path, uint32_t flags, uint64_t ud,
					       lean_obj_arg)
{
	lean_inc(old_path);
	lean_inc(new_path);
	return submit(r, ud, KIND_PATH, 0, old_path, new_path, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_RENAMEAT, fd_of(old_dir));
		sqe.addr = reinterpret_cast<uintptr_t>(lean_string_cstr(old_path));
		sqe.len = static_cast<uint32_t>(fd_of(new_dir));
		sqe.addr2 = reinterpret_cast<uintptr_t>(lean_string_cstr(new_path));
		sqe.rename_flags = flags;
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_accept(b_lean_obj_arg r, b_lean_obj_arg fd, uint32_t flags,
					    uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, LU_SLOT_FD_RESULT, nullptr, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_ACCEPT, fd_of(fd));
		sqe.accept_flags = flags;
		return sqe;
	});
}

/* One submission, a CQE per connection (IORING_CQE_F_MORE on all but the last). */
extern "C" lean_obj_res lean_io_ring_accept_multishot(b_lean_obj_arg r, b_lean_obj_arg fd,
						      uint32_t flags, uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, LU_SLOT_FD_RESULT, nullptr, nullptr,
		      [&](lu_slot_scratch *) { return lu_sqe_accept_multishot(fd_of(fd), (int)flags); });
}

extern "C" lean_obj_res lean_io_ring_connect(b_lean_obj_arg r, b_lean_obj_arg fd, uint32_t addr,
					     uint16_t port, uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *s) {
		s->sin = {};
		s->sin.sin_family = AF_INET;
		s->sin.sin_addr.s_addr = htonl(addr);
		s->sin.sin_port = htons(port);
		io_uring_sqe sqe = sqe_of(IORING_OP_CONNECT, fd_of(fd));
		sqe.addr = reinterpret_cast<uintptr_t>(&s->sin);
		sqe.off = sizeof(s->sin);
		return sqe;
	});
}

/* Family 4 or 6, the address's bytes in network order; a bad address submits nothing. */
extern "C" lean_obj_res lean_io_ring_connect_to(b_lean_obj_arg r, b_lean_obj_arg fd,
						uint8_t family, b_lean_obj_arg addr, uint16_t port,
						uint64_t ud, lean_obj_arg)
{
	lu_sockaddr a;
	int len = lu_sockaddr_make(&a, family, lean_sarray_cptr(addr), lean_sarray_size(addr), port);

	if (len < 0)
		return io_error(len);
	static_assert(sizeof(lu_slot_scratch) >= sizeof(lu_sockaddr), "the scratch holds an address");
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *s) {
		memcpy(s, &a, static_cast<size_t>(len));
		io_uring_sqe sqe = sqe_of(IORING_OP_CONNECT, fd_of(fd));
		sqe.addr = reinterpret_cast<uintptr_t>(s);
		sqe.off = static_cast<uint64_t>(len);
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_shutdown(b_lean_obj_arg r, b_lean_obj_arg fd, uint32_t how,
					      uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_SHUTDOWN, fd_of(fd));
		sqe.len = how;
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_timeout(b_lean_obj_arg r, uint64_t ns, uint64_t ud,
					     lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *s) {
		s->ts.tv_sec = static_cast<int64_t>(ns / 1000000000u);
		s->ts.tv_nsec = static_cast<long long>(ns % 1000000000u);
		io_uring_sqe sqe = sqe_of(IORING_OP_TIMEOUT, -1);
		sqe.addr = reinterpret_cast<uintptr_t>(&s->ts);
		sqe.len = 1;
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_splice(b_lean_obj_arg r, b_lean_obj_arg fd_in, uint64_t off_in,
					    b_lean_obj_arg fd_out, uint64_t off_out, uint32_t len,
					    uint32_t flags, uint64_t ud, lean_obj_arg)
{
	return submit(r, ud, KIND_PLAIN, 0, nullptr, nullptr, [&](lu_slot_scratch *) {
		io_uring_sqe sqe = sqe_of(IORING_OP_SPLICE, fd_of(fd_out));
		sqe.splice_fd_in = fd_of(fd_in);
		sqe.splice_off_in = off_in;
		sqe.off = off_out;
		sqe.len = len;
		sqe.splice_flags = flags;
		return sqe;
	});
}

extern "C" lean_obj_res lean_io_ring_cancel(b_lean_obj_arg r, uint64_t target, uint64_t ud,
					    lean_obj_arg)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);

	if (!t)
		return err;
	int e = lu_slots_cancel(t, target, ud);
	return e < 0 ? io_error(e) : ok_unit();
}

extern "C" lean_obj_res lean_io_ring_wait(b_lean_obj_arg r, lean_obj_arg)
{
	return wait(r, true);
}

extern "C" lean_obj_res lean_io_ring_poll(b_lean_obj_arg r, lean_obj_arg)
{
	return wait(r, false);
}

extern "C" lean_obj_res lean_io_ring_inflight(b_lean_obj_arg r, lean_obj_arg)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);

	return t ? lean_io_result_mk_ok(lean_usize_to_nat(lu_slots_inflight(t))) : err;
}

/*
 * Registered files live on the driver's ring; an emulated table has none, and says so, which
 * leaves the fd plain with the same results.
 */
extern "C" lean_obj_res lean_io_ring_register_file(b_lean_obj_arg r, b_lean_obj_arg fd, lean_obj_arg)
{
	lean_obj_res err;
	lu_slots *t = table_of(r, &err);
	if (!t)
		return err;
	lu_driver *d = lu_slots_engine_of(t) == LU_SLOTS_RING ? lu_driver_get(nullptr) : nullptr;
	return lean_io_result_mk_ok(lean_box(d && lu_register_file(d, fd_of(fd)) == 0));
}

extern "C" lean_obj_res lean_io_ring_clear(lean_obj_arg buf)
{
	if (lean_is_exclusive(buf)) {
		lean_sarray_set_size(buf, 0);
		return buf;
	}
	size_t capacity = lean_sarray_capacity(buf);
	lean_dec(buf);
	return lean_alloc_sarray(1, 0, capacity);
}

extern "C" lean_obj_res lean_io_ring_capacity(b_lean_obj_arg buf)
{
	return lean_usize_to_nat(lean_sarray_capacity(buf));
}

extern "C" uint8_t lean_io_ring_bytes_eq(b_lean_obj_arg a, b_lean_obj_arg b)
{
	size_t n = lean_sarray_size(a);
	return n == lean_sarray_size(b) && memcmp(lean_sarray_cptr(a), lean_sarray_cptr(b), n) == 0;
}

/* IO.Ring.Cqe.take: freeing the completion first leaves the buffer with the one reference. */
extern "C" lean_obj_res lean_io_ring_cqe_take(lean_obj_arg c)
{
	lean_object *res = lean_ctor_get(c, 0), *h = lean_ctor_get(c, 1);
	lean_object *buf = !lean_is_scalar(h) && lean_obj_tag(h) == 1 ? lean_ctor_get(h, 0) : nullptr;

	lean_inc(res);
	if (buf)
		lean_inc(buf);
	lean_dec(c);
	lean_object *p = lean_alloc_ctor(0, 2, 0);
	lean_ctor_set(p, 0, res);
	lean_ctor_set(p, 1, buf ? buf : lean_alloc_sarray(1, 0, 0));
	return p;
}

extern "C" lean_obj_res lean_io_ring_error_of(b_lean_obj_arg res, b_lean_obj_arg fname)
{
	int e = lean_is_scalar(res) ? static_cast<int>(lean_scalar_to_int64(res)) : -EINVAL;

	return error_of(e < 0 ? e : -EINVAL, fname);
}

extern "C" lean_obj_res lean_io_ring_pipe(lean_obj_arg)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return io_error(-errno);
	return fd_pair(p[0], p[1]);
}

extern "C" lean_obj_res lean_io_ring_tcp_socket(lean_obj_arg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? io_error(-errno) : lean_io_result_mk_ok(lean_int_to_int(fd));
}

extern "C" lean_obj_res lean_io_ring_tcp_listen(uint16_t port, lean_obj_arg)
{
	int fd = lu_listen_loopback(&lu_posix_ops, port);
	if (fd < 0)
		return io_error(fd);
	return lean_io_result_mk_ok(lean_int_to_int(fd));
}

extern "C" lean_obj_res lean_io_ring_local_port(b_lean_obj_arg fd, lean_obj_arg)
{
	sockaddr_in a = {};
	socklen_t len = sizeof a;

	if (getsockname(fd_of(fd), reinterpret_cast<sockaddr *>(&a), &len) < 0)
		return io_error(-errno);
	return lean_io_result_mk_ok(lean_box(ntohs(a.sin_port)));
}
