/*
 * lean_net.cpp - the Lean side of IO.Net.Sys and IO.FS.Sys (src/Init/IO/NetPrim.lean): plain blocking
 * socket and file syscalls, under either backend, for the typed sockets and files above the
 * fiber layer.  Each only converts arguments and results; the addresses are sockops.c's
 * (ops.h), and errors are the blocking API's IO.Error (lean_uring_errno_error, lean_io.h).
 * Every syscall that can be interrupted is retried on EINTR.
 */
#include "lean_io.h"

#include "ops.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

lean_obj_res io_error(long neg_errno)
{
	return lean_io_result_mk_error(lean_uring_errno_error(static_cast<int>(neg_errno), nullptr));
}

lean_obj_res ok_unit()
{
	return lean_io_result_mk_ok(lean_box(0));
}

lean_obj_res unit_or_error(int r)
{
	return r < 0 ? io_error(r) : ok_unit();
}

lean_obj_res fd_or_error(int r)
{
	return r < 0 ? io_error(r) : lean_io_result_mk_ok(lean_int_to_int(r));
}

int fd_of(b_lean_obj_arg i)
{
	return lean_uring_fd_of(i);
}

lean_object *pair(lean_object *a, lean_object *b)
{
	lean_object *p = lean_alloc_ctor(0, 2, 0);

	lean_ctor_set(p, 0, a);
	lean_ctor_set(p, 1, b);
	return p;
}

/* (family, bytes, port) of `fd`'s own or its peer's address. */
lean_obj_res address_of(b_lean_obj_arg fd, bool peer)
{
	lu_sockaddr a;
	int len = lu_sock_name(fd_of(fd), peer, &a);
	if (len < 0)
		return io_error(len);
	uint8_t family, bytes[16];
	uint16_t port;
	int n = lu_sockaddr_split(&a, static_cast<socklen_t>(len), &family, bytes, &port);
	if (n < 0)
		return io_error(n);
	lean_object *b = lean_alloc_sarray(1, static_cast<size_t>(n), static_cast<size_t>(n));
	memcpy(lean_sarray_cptr(b), bytes, static_cast<size_t>(n));
	return lean_io_result_mk_ok(pair(lean_box(family), pair(b, lean_box(port))));
}

/* bind or connect `fd` to the address; a bad family or byte count is EINVAL, no syscall. */
template <class Op>
lean_obj_res with_address(uint8_t family, b_lean_obj_arg addr, uint16_t port, Op op)
{
	lu_sockaddr a;
	int len = lu_sockaddr_make(&a, family, lean_sarray_cptr(addr), lean_sarray_size(addr), port);

	return unit_or_error(len < 0 ? len : op(&a.sa, static_cast<socklen_t>(len)));
}

} // namespace

extern "C" lean_obj_res lean_io_net_socket(uint8_t family, lean_obj_arg)
{
	return fd_or_error(lu_tcp_socket(family));
}

extern "C" lean_obj_res lean_io_net_bind(b_lean_obj_arg fd, uint8_t family, b_lean_obj_arg addr,
					 uint16_t port, lean_obj_arg)
{
	return with_address(family, addr, port, [&](const sockaddr *a, socklen_t len) {
		return lu_bind(fd_of(fd), a, len);
	});
}

extern "C" lean_obj_res lean_io_net_listen(b_lean_obj_arg fd, uint32_t backlog, lean_obj_arg)
{
	int b = backlog > INT32_MAX ? INT32_MAX : static_cast<int>(backlog);
	return unit_or_error(lu_listen(fd_of(fd), b));
}

extern "C" lean_obj_res lean_io_net_set_option(b_lean_obj_arg fd, uint32_t level, uint32_t name,
					       uint32_t value, lean_obj_arg)
{
	return unit_or_error(lu_sockopt_set(fd_of(fd), static_cast<int>(level),
					    static_cast<int>(name), static_cast<int>(value)));
}

extern "C" lean_obj_res lean_io_net_get_option(b_lean_obj_arg fd, uint32_t level, uint32_t name,
					       lean_obj_arg)
{
	int v;
	int r = lu_sockopt_get(fd_of(fd), static_cast<int>(level), static_cast<int>(name), &v);

	return r < 0 ? io_error(r) : lean_io_result_mk_ok(lean_box_uint32(static_cast<uint32_t>(v)));
}

extern "C" lean_obj_res lean_io_net_local_addr(b_lean_obj_arg fd, lean_obj_arg)
{
	return address_of(fd, false);
}

extern "C" lean_obj_res lean_io_net_peer_addr(b_lean_obj_arg fd, lean_obj_arg)
{
	return address_of(fd, true);
}

extern "C" lean_obj_res lean_io_net_accept(b_lean_obj_arg fd, lean_obj_arg)
{
	return fd_or_error(lu_posix_ops.accept(fd_of(fd), nullptr, nullptr, SOCK_CLOEXEC));
}

extern "C" lean_obj_res lean_io_net_connect(b_lean_obj_arg fd, uint8_t family, b_lean_obj_arg addr,
					    uint16_t port, lean_obj_arg)
{
	return with_address(family, addr, port, [&](const sockaddr *a, socklen_t len) {
		return lu_posix_ops.connect(fd_of(fd), a, len);
	});
}

/*
 * One recv(2) into [size, capacity), at most 1 GiB (ops.h).  The kernel writes where nobody
 * else may look, so a shared buffer is copied first; no spare capacity, no syscall.
 */
extern "C" lean_obj_res lean_io_net_recv(b_lean_obj_arg fd, lean_obj_arg buf, lean_obj_arg)
{
	size_t size = lean_sarray_size(buf), spare = lean_sarray_capacity(buf) - size;

	if (spare == 0)
		return lean_io_result_mk_ok(buf);
	if (!lean_is_exclusive(buf))
		buf = lean_copy_byte_array(buf);
	ssize_t n = lu_posix_ops.recv(fd_of(fd), lean_sarray_cptr(buf) + size, spare, 0);
	if (n < 0) {
		lean_dec(buf);
		return io_error(n);
	}
	lean_sarray_set_size(buf, size + static_cast<size_t>(n));
	return lean_io_result_mk_ok(buf);
}

/* One send(2) of [offset, size), at most 1 GiB; an offset past the end is EINVAL. */
extern "C" lean_obj_res lean_io_net_send(b_lean_obj_arg fd, b_lean_obj_arg buf,
					 b_lean_obj_arg offset, lean_obj_arg)
{
	size_t size = lean_sarray_size(buf);

	if (!lean_is_scalar(offset) || lean_unbox(offset) > size)
		return io_error(-EINVAL);
	size_t off = lean_unbox(offset);
	ssize_t n = lu_posix_ops.send(fd_of(fd), lean_sarray_cptr(buf) + off, size - off,
				      MSG_NOSIGNAL);
	return n < 0 ? io_error(n) : lean_io_result_mk_ok(lean_usize_to_nat(static_cast<size_t>(n)));
}

extern "C" lean_obj_res lean_io_net_shutdown(b_lean_obj_arg fd, uint32_t how, lean_obj_arg)
{
	return unit_or_error(lu_posix_ops.shutdown(fd_of(fd), static_cast<int>(how)));
}

extern "C" lean_obj_res lean_io_net_close(b_lean_obj_arg fd, lean_obj_arg)
{
	return unit_or_error(lu_posix_ops.close(fd_of(fd)));
}

/* One copy_file_range(2) at explicit offsets; an error is a value, for the caller's fallback. */
extern "C" lean_obj_res lean_io_net_copy_file_range(b_lean_obj_arg fd_in, uint64_t off_in,
						    b_lean_obj_arg fd_out, uint64_t off_out,
						    uint64_t len, lean_obj_arg)
{
	loff_t in = static_cast<loff_t>(off_in), out = static_cast<loff_t>(off_out);
	size_t n = len > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(len);
	ssize_t r;

	do
		r = copy_file_range(fd_of(fd_in), &in, fd_of(fd_out), &out, n, 0);
	while (r < 0 && errno == EINTR);
	return lean_io_result_mk_ok(lean_int64_to_int(r < 0 ? -errno : r));
}

/* (st_mode, the status flags of F_GETFL). */
extern "C" lean_obj_res lean_io_net_fd_info(b_lean_obj_arg fd, lean_obj_arg)
{
	struct stat st;
	int f = fd_of(fd);

	if (fstat(f, &st) < 0)
		return io_error(-errno);
	int fl = fcntl(f, F_GETFL);
	if (fl < 0)
		return io_error(-errno);
	return lean_io_result_mk_ok(pair(lean_box_uint32(st.st_mode),
					 lean_box_uint32(static_cast<uint32_t>(fl))));
}

/* Through the C core, so that a handle on the same fd sees the change (handle.h). */
extern "C" lean_obj_res lean_io_net_set_nonblocking(b_lean_obj_arg fd, uint8_t on, lean_obj_arg)
{
	int r = lu_fd_set_nonblocking(fd_of(fd), on != 0);

	return r < 0 ? io_error(r) : ok_unit();
}

/* The file-tree syscalls io_uring has no opcode for (readlink, fchmodat, fchmod, umask,
 * isatty) and symlinkat, kept here beside the others so that a tree copy needs no ring support
 * beyond what every kernel we accept has.  Errors name the path. */

extern "C" lean_obj_res lean_io_fs_readlink(b_lean_obj_arg path, lean_obj_arg)
{
	const char *p = lean_string_cstr(path);
	size_t cap = 256;

	for (;;) {
		char *buf = static_cast<char *>(malloc(cap));
		if (!buf)
			return io_error(-ENOMEM);
		ssize_t n = readlink(p, buf, cap);
		if (n < 0) {
			int e = errno;
			free(buf);
			return lean_io_result_mk_error(lean_uring_errno_error(-e, path));
		}
		/* A result that fills the buffer may have been truncated: grow and retry. */
		if (static_cast<size_t>(n) < cap) {
			buf[n] = '\0';
			lean_object *s = lean_mk_string(buf);
			free(buf);
			return lean_io_result_mk_ok(s);
		}
		free(buf);
		cap *= 2;
	}
}

extern "C" lean_obj_res lean_io_fs_symlink(b_lean_obj_arg target, b_lean_obj_arg path, lean_obj_arg)
{
	if (symlink(lean_string_cstr(target), lean_string_cstr(path)) < 0)
		return lean_io_result_mk_error(lean_uring_errno_error(-errno, path));
	return ok_unit();
}

extern "C" lean_obj_res lean_io_fs_chmod(b_lean_obj_arg path, uint32_t mode, lean_obj_arg)
{
	if (fchmodat(AT_FDCWD, lean_string_cstr(path), static_cast<mode_t>(mode), 0) < 0)
		return lean_io_result_mk_error(lean_uring_errno_error(-errno, path));
	return ok_unit();
}

extern "C" lean_obj_res lean_io_fs_fchmod(b_lean_obj_arg fd, uint32_t mode, lean_obj_arg)
{
	return unit_or_error(fchmod(fd_of(fd), static_cast<mode_t>(mode)) < 0 ? -errno : 0);
}

/* umask(2) can only be read by setting it, so it is set back at once; a file another thread
 * creates in between gets mask 0, so read it before starting threads that create files. */
extern "C" lean_obj_res lean_io_fs_umask(lean_obj_arg)
{
	mode_t m = umask(0);

	umask(m);
	return lean_io_result_mk_ok(lean_box_uint32(static_cast<uint32_t>(m)));
}

extern "C" lean_obj_res lean_io_fs_isatty(b_lean_obj_arg fd, lean_obj_arg)
{
	return lean_io_result_mk_ok(lean_box(isatty(fd_of(fd)) ? 1 : 0));
}
