/*
 * lean_io.cpp - the Lean side of the io_uring backend, and the only file of it that knows
 * lean_object, world tokens, IO results and IO.Error.  Everything else is the C core
 * (handle.c, dir.c, ops.h); these functions only convert arguments and results, so moving to
 * another Lean ABI means rewriting this file alone.
 *
 * Errors are built exactly as upstream builds them for the same syscall (decode_io_error with
 * the same file name argument), so IO.Error kinds and messages agree between the backends.
 */
#include "lean_io.h"

#include "backend.h"
#include "copy.h"
#include "dir.h"
#include "handle.h"
#include "ops.h"

#include <lean/io.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

extern "C" lean_object *lean_io_error_to_string(lean_object *err);
extern "C" lean_object *mk_io_user_error(lean_object *str);

/*
 * The interpreter (lean --run) runs an @[extern] constant through its compiled wrapper, found
 * by symbol in the running executable.  Nothing in the lean binary refers to Init.IO.Backend
 * or Init.IO.Copy, so without these references the linker would leave their objects out of
 * libInit.a and IO.backendName or IO.FS.copyFile would have no implementation under
 * `lean --run`.
 */
extern "C" lean_object *l_IO_backendName___boxed(lean_object *w);
extern "C" lean_object *l_IO_backendReason___boxed(lean_object *w);
extern "C" lean_object *l_IO_FS_copyFile___boxed(lean_object *src, lean_object *dst,
						 lean_object *w);
/* IO.Ring (Init.IO.RingPrim): only their addresses are taken, so their arities do not matter. */
extern "C" lean_object *l_IO_Ring_current___boxed();
extern "C" lean_object *l_IO_Ring_forScheduler___boxed();
extern "C" lean_object *l_IO_Ring_endScheduler___boxed();
extern "C" lean_object *l_IO_Ring_nop___boxed();
extern "C" lean_object *l_IO_Ring_read___boxed();
extern "C" lean_object *l_IO_Ring_readAt___boxed();
extern "C" lean_object *l_IO_Ring_write___boxed();
extern "C" lean_object *l_IO_Ring_writeAt___boxed();
extern "C" lean_object *l_IO_Ring_openAt___boxed();
extern "C" lean_object *l_IO_Ring_close___boxed();
extern "C" lean_object *l_IO_Ring_statx___boxed();
extern "C" lean_object *l_IO_Ring_accept___boxed();
extern "C" lean_object *l_IO_Ring_connect___boxed();
extern "C" lean_object *l_IO_Ring_recv___boxed();
extern "C" lean_object *l_IO_Ring_send___boxed();
extern "C" lean_object *l_IO_Ring_shutdown___boxed();
extern "C" lean_object *l_IO_Ring_timeout___boxed();
extern "C" lean_object *l_IO_Ring_splice___boxed();
extern "C" lean_object *l_IO_Ring_cancel___boxed();
extern "C" lean_object *l_IO_Ring_wait___boxed();
extern "C" lean_object *l_IO_Ring_poll___boxed();
extern "C" lean_object *l_IO_Ring_inflight___boxed();
extern "C" lean_object *l_IO_Ring_clear___boxed();
extern "C" lean_object *l_IO_Ring_capacity___boxed();
extern "C" lean_object *l_IO_Ring_bytesEq___boxed();
extern "C" lean_object *l_IO_Ring_Cqe_take___boxed();
extern "C" lean_object *l_IO_Ring_errorOf___boxed();
extern "C" lean_object *l_IO_Ring_pipe___boxed();
extern "C" lean_object *l_IO_Ring_tcpListen___boxed();
extern "C" lean_object *l_IO_Ring_tcpSocket___boxed();
extern "C" lean_object *l_IO_Ring_localPort___boxed();
extern "C" lean_object *l_IO_Ring_fsync___boxed();
extern "C" lean_object *l_IO_Ring_mkdirAt___boxed();
extern "C" lean_object *l_IO_Ring_unlinkAt___boxed();
extern "C" lean_object *l_IO_Ring_renameAt___boxed();
extern "C" lean_object *l_IO_Ring_connectTo___boxed();
/* IO.Net.Sys (Init.IO.NetPrim), likewise. */
extern "C" lean_object *l_IO_Net_Sys_socket___boxed();
extern "C" lean_object *l_IO_Net_Sys_bind___boxed();
extern "C" lean_object *l_IO_Net_Sys_listen___boxed();
extern "C" lean_object *l_IO_Net_Sys_setOption___boxed();
extern "C" lean_object *l_IO_Net_Sys_getOption___boxed();
extern "C" lean_object *l_IO_Net_Sys_localAddr___boxed();
extern "C" lean_object *l_IO_Net_Sys_peerAddr___boxed();
extern "C" lean_object *l_IO_Net_Sys_accept___boxed();
extern "C" lean_object *l_IO_Net_Sys_connect___boxed();
extern "C" lean_object *l_IO_Net_Sys_recv___boxed();
extern "C" lean_object *l_IO_Net_Sys_send___boxed();
extern "C" lean_object *l_IO_Net_Sys_shutdown___boxed();
extern "C" lean_object *l_IO_Net_Sys_close___boxed();
extern "C" lean_object *l_IO_Net_Sys_copyFileRange___boxed();
extern "C" lean_object *l_IO_Net_Sys_fdInfo___boxed();
extern "C" lean_object *l_IO_Net_Sys_setNonblocking___boxed();
__attribute__((used)) static void *const g_overlay_decls[] = {
	reinterpret_cast<void *>(l_IO_backendName___boxed),
	reinterpret_cast<void *>(l_IO_backendReason___boxed),
	reinterpret_cast<void *>(l_IO_FS_copyFile___boxed),
	reinterpret_cast<void *>(l_IO_Ring_current___boxed),
	reinterpret_cast<void *>(l_IO_Ring_forScheduler___boxed),
	reinterpret_cast<void *>(l_IO_Ring_endScheduler___boxed),
	reinterpret_cast<void *>(l_IO_Ring_nop___boxed),
	reinterpret_cast<void *>(l_IO_Ring_read___boxed),
	reinterpret_cast<void *>(l_IO_Ring_readAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_write___boxed),
	reinterpret_cast<void *>(l_IO_Ring_writeAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_openAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_close___boxed),
	reinterpret_cast<void *>(l_IO_Ring_statx___boxed),
	reinterpret_cast<void *>(l_IO_Ring_accept___boxed),
	reinterpret_cast<void *>(l_IO_Ring_connect___boxed),
	reinterpret_cast<void *>(l_IO_Ring_recv___boxed),
	reinterpret_cast<void *>(l_IO_Ring_send___boxed),
	reinterpret_cast<void *>(l_IO_Ring_shutdown___boxed),
	reinterpret_cast<void *>(l_IO_Ring_timeout___boxed),
	reinterpret_cast<void *>(l_IO_Ring_splice___boxed),
	reinterpret_cast<void *>(l_IO_Ring_cancel___boxed),
	reinterpret_cast<void *>(l_IO_Ring_wait___boxed),
	reinterpret_cast<void *>(l_IO_Ring_poll___boxed),
	reinterpret_cast<void *>(l_IO_Ring_inflight___boxed),
	reinterpret_cast<void *>(l_IO_Ring_clear___boxed),
	reinterpret_cast<void *>(l_IO_Ring_capacity___boxed),
	reinterpret_cast<void *>(l_IO_Ring_bytesEq___boxed),
	reinterpret_cast<void *>(l_IO_Ring_Cqe_take___boxed),
	reinterpret_cast<void *>(l_IO_Ring_errorOf___boxed),
	reinterpret_cast<void *>(l_IO_Ring_pipe___boxed),
	reinterpret_cast<void *>(l_IO_Ring_tcpListen___boxed),
	reinterpret_cast<void *>(l_IO_Ring_tcpSocket___boxed),
	reinterpret_cast<void *>(l_IO_Ring_localPort___boxed),
	reinterpret_cast<void *>(l_IO_Ring_fsync___boxed),
	reinterpret_cast<void *>(l_IO_Ring_mkdirAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_unlinkAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_renameAt___boxed),
	reinterpret_cast<void *>(l_IO_Ring_connectTo___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_socket___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_bind___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_listen___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_setOption___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_getOption___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_localAddr___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_peerAddr___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_accept___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_connect___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_recv___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_send___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_shutdown___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_close___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_copyFileRange___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_fdInfo___boxed),
	reinterpret_cast<void *>(l_IO_Net_Sys_setNonblocking___boxed),
};

namespace {

bool g_enabled = false;
lean_external_class *g_handle_class = nullptr;
lu_handle *g_stdin = nullptr, *g_stdout = nullptr, *g_stderr = nullptr;
pid_t g_pid = 0;

void handle_finalize(void *h)
{
	// Like fclose at the pinned upstream: errors at this point have nobody to go to.
	lu_handle_close(static_cast<lu_handle *>(h));
}

void handle_foreach(void *, b_lean_obj_arg)
{
}

lu_handle *get(b_lean_obj_arg h)
{
	return static_cast<lu_handle *>(lean_get_external_data(h));
}

lean_object *wrap(lu_handle *h)
{
	return lean_alloc_external(g_handle_class, h);
}

lu_handle *std_handle(int fd, bool writable, lu_buffering buffering)
{
	lu_handle *h;

	if (lu_handle_from_fd(fd, !writable, writable, buffering, false, &h) < 0)
		lean_internal_panic_out_of_memory();
	return h;
}

/*
 * The C library flushes every open stream at exit; ours must too.  A child forked by spawn that fails
 * to exec also exits through here: it must not touch the parent's ring (its mapping is shared
 * with the parent), and it would only print the parent's buffered output a second time.
 */
void flush_std_at_exit()
{
	if (getpid() != g_pid)
		return;
	lu_handle_flush_all();
}

/*
 * Under a forced `uring`, a thread that cannot set up its ring fails every ring operation
 * with the setup's errno; reported as that errno ("too many open files") it would blame the
 * operation, so the error says what really happened.
 */
lean_object *no_ring_error(int neg_errno)
{
	char why[96];

	lu_describe_errno(why, sizeof why, -neg_errno);
	std::string msg = std::string("io_uring: this thread cannot set up its ring "
				      "(io_uring_setup failed: ") + why +
			  "), and LEAN_IO_BACKEND=uring forbids falling back to posix";
	return mk_io_user_error(lean_mk_string(msg.c_str()));
}

lean_obj_res io_error(int neg_errno, b_lean_obj_arg fname)
{
	int no_ring = lu_ops_unavailable();

	if (no_ring != 0 && neg_errno == no_ring)
		return lean_io_result_mk_error(no_ring_error(neg_errno));
	return lean_io_result_mk_error(lean::decode_io_error(-neg_errno, fname));
}

lean_obj_res ok_unit()
{
	return lean_io_result_mk_ok(lean_box(0));
}

lean_obj_res system_time(int64_t sec, uint32_t nsec)
{
	lean_object *o = lean_alloc_ctor(0, 1, sizeof(uint32_t));

	lean_ctor_set(o, 0, lean_int64_to_int(sec));
	lean_ctor_set_uint32(o, sizeof(void *), nsec);
	return o;
}

struct dir_listing {
	lean_object *dirname;
	lean_object *entries;
};

int add_dir_entry(void *ctx, const char *name)
{
	dir_listing *l = static_cast<dir_listing *>(ctx);
	lean_object *e = lean_alloc_ctor(0, 2, 0);

	lean_inc(l->dirname);
	lean_ctor_set(e, 0, l->dirname);
	lean_ctor_set(e, 1, lean_mk_string(name));
	l->entries = lean_array_push(l->entries, e);
	return 0;
}

} // namespace

extern "C" void lean_uring_initialize(void)
{
	int r = lu_backend_init();
	const struct lu_backend *b = lu_backend();

	if (r < 0) {
		const char *value = std::getenv("LEAN_IO_BACKEND");

		std::fprintf(stderr, "lean: LEAN_IO_BACKEND=%s cannot be used: %s\n", value ? value : "",
			     b->reason ? b->reason : std::strerror(-r));
		std::exit(1);
	}
	g_enabled = b->kind == LU_BACKEND_URING;
	if (!g_enabled)
		return;
	g_handle_class = lean_register_external_class(handle_finalize, handle_foreach);
	g_pid = getpid();
	// glibc's choices for the standard streams: by lines on a terminal, stderr unbuffered.
	g_stdin = std_handle(STDIN_FILENO, false, LU_BUF_DEFAULT);
	g_stdout = std_handle(STDOUT_FILENO, true, LU_BUF_DEFAULT);
	g_stderr = std_handle(STDERR_FILENO, true, LU_BUF_NONE);
	lu_handle_set_stdout(g_stdout);
	std::atexit(flush_std_at_exit);
}

extern "C" bool lean_uring_enabled(void)
{
	return g_enabled;
}

extern "C" lean_object *lean_uring_std_handle(int fd)
{
	return wrap(fd == STDIN_FILENO ? g_stdin : fd == STDOUT_FILENO ? g_stdout : g_stderr);
}

extern "C" lean_object *lean_uring_wrap_fd(int fd, bool writable)
{
	lu_handle *h;

	if (lu_handle_from_fd(fd, !writable, writable, LU_BUF_FULL, true, &h) < 0)
		lean_internal_panic_out_of_memory();
	return wrap(h);
}

extern "C" void lean_uring_flush_stdout(void)
{
	lu_handle_flush(g_stdout);
}

extern "C" void lean_uring_sleep_ms(uint32_t ms)
{
	uint64_t ns = (uint64_t)ms * 1000000u;

	// A thread whose ring cannot be set up (memlock exhausted) still has to sleep.
	if (lu_ops()->sleep_ns(ns) < 0)
		lu_posix_ops.sleep_ns(ns);
}

/*
 * Upstream's version takes a reference with inc_ref, which crashes when the error is a
 * constructor without fields (IO.Error.unexpectedEof is a boxed scalar); lean_inc does not.
 */
extern "C" void lean_uring_show_error(b_lean_obj_arg r)
{
	lean_object *err = lean_io_result_get_error(r);

	lean_inc(err);
	lean_object *str = lean_io_error_to_string(err);
	std::string msg = std::string("uncaught exception: ") + lean_string_cstr(str) + "\n";
	lean_dec(str);
	lu_handle_write(g_stderr, msg.data(), msg.size());
}

extern "C" lean_obj_res lean_uring_prim_handle_mk(b_lean_obj_arg fname, b_lean_obj_arg mode,
						  lean_obj_arg)
{
	lu_handle *h;
	int r = lu_handle_open(lean_string_cstr(fname), lean_string_cstr(mode), &h);

	if (r < 0)
		return io_error(r, fname);
	return lean_io_result_mk_ok(wrap(h));
}

extern "C" lean_obj_res lean_uring_prim_handle_is_eof(b_lean_obj_arg h, lean_obj_arg)
{
	return lean_io_result_mk_ok(lean_box(lu_handle_is_eof(get(h))));
}

extern "C" lean_obj_res lean_uring_prim_handle_flush(b_lean_obj_arg h, lean_obj_arg)
{
	int r = lu_handle_flush(get(h));

	return r < 0 ? io_error(r, nullptr) : ok_unit();
}

extern "C" lean_obj_res lean_uring_prim_handle_read(b_lean_obj_arg h, size_t nbytes, lean_obj_arg)
{
	/*
	 * At EOF nothing is read, so nothing is allocated: upstream tests feof first, and a huge
	 * request after EOF returns an empty array instead of running out of memory.
	 */
	if (lu_handle_is_eof(get(h)))
		return lean_io_result_mk_ok(lean_alloc_sarray(1, 0, 0));
	lean_object *res = lean_alloc_sarray(1, 0, nbytes);
	ssize_t n = lu_handle_read(get(h), lean_sarray_cptr(res), nbytes);

	if (n < 0) {
		lean_dec(res);
		return io_error((int)n, nullptr);
	}
	lean_sarray_set_size(res, (size_t)n);
	return lean_io_result_mk_ok(res);
}

extern "C" lean_obj_res lean_uring_prim_handle_write(b_lean_obj_arg h, b_lean_obj_arg buf,
						     lean_obj_arg)
{
	int r = lu_handle_write(get(h), lean_sarray_cptr(buf), lean_sarray_size(buf));

	return r < 0 ? io_error(r, nullptr) : ok_unit();
}

/* Upstream reports every getLine failure as this one user error. */
extern "C" lean_obj_res lean_uring_prim_handle_get_line(b_lean_obj_arg h, lean_obj_arg)
{
	lu_line line;

	if (lu_handle_get_line(get(h), &line) < 0)
		return lean_io_result_mk_error(mk_io_user_error(lean_mk_string("getLine failed")));
	lean_object *s = lean_mk_string(line.data);
	std::free(line.data);
	return lean_io_result_mk_ok(s);
}

/* Upstream writes with fputs, which stops at the first NUL. */
extern "C" lean_obj_res lean_uring_prim_handle_put_str(b_lean_obj_arg h, b_lean_obj_arg s,
						       lean_obj_arg)
{
	const char *str = lean_string_cstr(s);
	int r = lu_handle_write(get(h), str, std::strlen(str));

	return r < 0 ? io_error(r, nullptr) : ok_unit();
}

extern "C" lean_obj_res lean_uring_read_dir(b_lean_obj_arg dirname, lean_obj_arg)
{
	dir_listing l = {dirname, lean_mk_empty_array()};
	int r = lu_read_dir(lean_string_cstr(dirname), add_dir_entry, &l);

	if (r < 0) {
		lean_dec(l.entries);
		return io_error(r, dirname);
	}
	return lean_io_result_mk_ok(l.entries);
}

/* IO.FS.Metadata: accessed, modified, then the scalars byteSize : UInt64, type : FileType. */
extern "C" lean_object *lean_uring_mk_metadata(const struct statx *st)
{
	lean_object *md = lean_alloc_ctor(0, 2, sizeof(uint64_t) + sizeof(uint8_t));
	lean_ctor_set(md, 0, system_time(st->stx_atime.tv_sec, st->stx_atime.tv_nsec));
	lean_ctor_set(md, 1, system_time(st->stx_mtime.tv_sec, st->stx_mtime.tv_nsec));
	lean_ctor_set_uint64(md, 2 * sizeof(void *), st->stx_size);
	lean_ctor_set_uint8(md, 2 * sizeof(void *) + sizeof(uint64_t),
			    S_ISDIR(st->stx_mode) ? 0 : S_ISREG(st->stx_mode) ? 1 :
			    S_ISLNK(st->stx_mode) ? 2 : 3);
	return md;
}

extern "C" lean_obj_res lean_uring_metadata(b_lean_obj_arg fname, lean_obj_arg)
{
	struct statx st;
	int r = lu_ops()->statx(AT_FDCWD, lean_string_cstr(fname), 0, STATX_BASIC_STATS, &st);

	if (r < 0)
		return io_error(r, fname);
	return lean_io_result_mk_ok(lean_uring_mk_metadata(&st));
}

extern "C" lean_obj_res lean_uring_create_dir(b_lean_obj_arg p, lean_obj_arg)
{
	int r = lu_ops()->mkdirat(AT_FDCWD, lean_string_cstr(p), 0777);

	return r < 0 ? io_error(r, p) : ok_unit();
}

/*
 * `fname` if the IO.Error for errno `errnum` takes a file name, else NULL.  Upstream's
 * decode_io_error requires a name for EINTR and ENOENT, accepts one for the other errnos
 * listed here, and asserts that there is none for every other errno (ENOTEMPTY, EBUSY, EIO,
 * EEXIST, ...), which aborts a debug build.
 */
extern "C" b_lean_obj_arg lean_uring_error_file_name(int errnum, b_lean_obj_arg fname)
{
	switch (errnum) {
	case EINTR: case ENOENT:
	case ELOOP: case ENAMETOOLONG: case EDESTADDRREQ: case EBADF: case EDOM: case EINVAL:
	case EILSEQ: case ENOEXEC: case ENOSTR: case ENOTCONN: case ENOTSOCK:
	case EACCES: case EROFS: case ECONNABORTED: case EFBIG: case EPERM:
	case EMFILE: case ENFILE: case ENOSPC: case E2BIG: case EAGAIN: case EMLINK:
	case EMSGSIZE: case ENOBUFS: case ENOLCK: case ENOMEM: case ENOSR:
	case EISDIR: case EBADMSG: case ENOTDIR:
	case ENXIO: case EHOSTUNREACH: case ENETUNREACH: case ECHILD: case ECONNREFUSED:
	case ENODATA: case ENOMSG: case ESRCH:
		return fname;
	default:
		return nullptr;
	}
}

extern "C" lean_object *lean_uring_errno_error(int neg_errno, b_lean_obj_arg fname)
{
	int errnum = -neg_errno;
	lean_object *empty = lean_mk_string("");
	b_lean_obj_arg name = fname && lean_string_size(fname) > 1 ? fname : nullptr;
	name = name ? lean_uring_error_file_name(errnum, name) :
	       errnum == ENOENT || errnum == EINTR ? empty : nullptr;
	lean_object *e = lean::decode_io_error(errnum, name);
	lean_dec(empty);
	return e;
}

extern "C" int lean_uring_fd_of(b_lean_obj_arg i)
{
	if (!lean_is_scalar(i))
		return -1;
	int64_t v = lean_scalar_to_int64(i);
	return v >= INT32_MIN && v <= INT32_MAX ? (int)v : -1;
}

/*
 * remove(3) as glibc implements it: unlink, and rmdir if that was a directory.  The error
 * names the file where its IO.Error takes a name: upstream passed no name and crashed on
 * ENOENT, and patches/0003-posix-remove-file-names-the-file.patch makes the POSIX path agree
 * (with the same lean_uring_error_file_name).
 */
extern "C" lean_obj_res lean_uring_remove_file(b_lean_obj_arg fname, lean_obj_arg)
{
	const char *path = lean_string_cstr(fname);
	int r = lu_ops()->unlinkat(AT_FDCWD, path, 0);

	if (r == -EISDIR)
		r = lu_ops()->unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
	return r < 0 ? io_error(r, lean_uring_error_file_name(-r, fname)) : ok_unit();
}

extern "C" lean_obj_res lean_io_backend_name(lean_obj_arg)
{
	return lean_io_result_mk_ok(lean_mk_string(lu_backend()->kind == LU_BACKEND_URING ? "uring" : "posix"));
}

extern "C" lean_obj_res lean_io_backend_reason(lean_obj_arg)
{
	const char *reason = lu_backend()->reason;

	return lean_io_result_mk_ok(lean_mk_string(reason ? reason : ""));
}

/* Under both backends: the engine picks the ring or the POSIX loop from lu_ops(). */
extern "C" lean_obj_res lean_io_copy_file(b_lean_obj_arg src, b_lean_obj_arg dst, lean_obj_arg)
{
	lu_copy_result res;
	int r = lu_copy_file(lean_string_cstr(src), lean_string_cstr(dst), nullptr, &res);

	if (r < 0)
		return io_error(r, res.failed == LU_COPY_DST ? dst : src);
	return ok_unit();
}

