/*
 * lean_io.h - the hooks by which upstream's runtime (io.cpp, process.cpp, object.cpp, patched
 * by patches/) hands IO to the io_uring backend.  Implemented in lean_io.cpp.
 *
 * Each rerouted extern starts with `if (lean_uring_enabled()) return lean_uring_<name>(...)`,
 * with the extern's own signature, so the POSIX path below it stays upstream's, unchanged.
 */
#ifndef LU_LEAN_IO_H
#define LU_LEAN_IO_H

#include <lean/lean.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Decides the backend (backend.h); a forced `uring` that cannot work exits the process. */
void lean_uring_initialize(void);
bool lean_uring_enabled(void);

/* Handles for the standard streams, and for the parent's ends of a child's pipes. */
lean_object *lean_uring_std_handle(int fd);
lean_object *lean_uring_wrap_fd(int fd, bool writable);
/* What upstream's spawn does with std::cout.flush() before a child inherits the terminal. */
void lean_uring_flush_stdout(void);

void lean_uring_sleep_ms(uint32_t ms);
void lean_uring_show_error(b_lean_obj_arg r);

lean_obj_res lean_uring_prim_handle_mk(b_lean_obj_arg fname, b_lean_obj_arg mode, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_is_eof(b_lean_obj_arg h, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_flush(b_lean_obj_arg h, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_read(b_lean_obj_arg h, size_t nbytes, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_write(b_lean_obj_arg h, b_lean_obj_arg buf, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_get_line(b_lean_obj_arg h, lean_obj_arg w);
lean_obj_res lean_uring_prim_handle_put_str(b_lean_obj_arg h, b_lean_obj_arg s, lean_obj_arg w);
lean_obj_res lean_uring_read_dir(b_lean_obj_arg dirname, lean_obj_arg w);
lean_obj_res lean_uring_metadata(b_lean_obj_arg fname, lean_obj_arg w);
lean_obj_res lean_uring_create_dir(b_lean_obj_arg p, lean_obj_arg w);
lean_obj_res lean_uring_remove_file(b_lean_obj_arg fname, lean_obj_arg w);

/*
 * `fname` if the IO.Error for errno `errnum` takes a file name, else NULL (decode_io_error
 * asserts that there is none for the others).  Both backends' removeFile use it.
 */
b_lean_obj_arg lean_uring_error_file_name(int errnum, b_lean_obj_arg fname);

/*
 * The IO.Error the blocking API gives for the errno -neg_errno, as upstream's decode_io_error
 * builds it.  An empty or NULL `fname` means "no file": it is left out of the message, except
 * for the errnos whose IO.Error must carry a name (ENOENT, EINTR).  IO.Ring and IO.Net.Sys use
 * it (lean_ring.cpp, lean_net.cpp).
 */
lean_object *lean_uring_errno_error(int neg_errno, b_lean_obj_arg fname);
/* An fd passed as a Lean Int; one outside the C int range is -1, which the kernel refuses (EBADF). */
int lean_uring_fd_of(b_lean_obj_arg i);

/* IO.FS.Metadata from a statx (metadata, and IO.Ring's statx completions). */
struct statx;
lean_object *lean_uring_mk_metadata(const struct statx *st);

#ifdef __cplusplus
}
#endif
#endif
