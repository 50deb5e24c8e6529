/*
 * backend.h - choosing between the io_uring and POSIX backends, once per process.
 *
 * LEAN_IO_BACKEND = uring | posix | auto (unset or empty means auto) is read once, at the first
 * call to lu_backend_init() (the Lean runtime calls it before it creates the standard streams).
 *  - posix: every operation takes the POSIX path.
 *  - uring: io_uring must work; if it does not, lu_backend_init() fails with a reason.
 *  - auto:  io_uring if it works; otherwise POSIX, and the reason is recorded.
 * "Works" means: a ring can be set up (not ENOSYS, EPERM from seccomp or
 * kernel.io_uring_disabled, ENOMEM from the memlock limit) and the probe lists every opcode
 * the operations need, and the kernel reports the guarantees the driver relies on
 * (IORING_FEAT_NODROP, IORING_FEAT_SUBMIT_STABLE).  Any other value of the variable is an
 * error, not a silent default.
 */
#ifndef LU_BACKEND_H
#define LU_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lu_backend_kind { LU_BACKEND_POSIX = 0, LU_BACKEND_URING = 1 };

struct lu_backend {
	enum lu_backend_kind kind;
	const char *requested;  /* "uring", "posix", "auto", or "invalid" (unknown value)    */
	const char *reason;     /* why this backend, e.g. "auto: io_uring_setup failed: EPERM
				   (Operation not permitted); using posix"                  */
};

/*
 * Decide (only the first call does anything; later calls return the same answer).
 * Returns 0, or -EINVAL for an unknown LEAN_IO_BACKEND value, or the -errno that made a
 * forced `uring` impossible; lu_backend() then still describes the failure in `reason`.
 */
int lu_backend_init(void);
/* The decision; calls lu_backend_init() if nobody has. */
const struct lu_backend *lu_backend(void);
int lu_backend_is_uring(void);
/* Whether LEAN_IO_BACKEND=uring forbids falling back to POSIX. */
int lu_backend_is_forced(void);
/* A positive errno as "EPERM (Operation not permitted)", for reasons and messages. */
void lu_describe_errno(char *buf, size_t n, int err);

/*
 * For tests: the decision logic without the process-wide memo.  `out->reason` points to
 * thread-local storage, valid until this thread's next call.  When the call fails, `kind` is
 * POSIX.
 */
int lu_backend_decide(const char *env_value, struct lu_backend *out);
/*
 * 0 if `features` (io_uring_params.features) has every guarantee the runtime relies on;
 * otherwise -EOPNOTSUPP and, in `why`, the first one missing.
 */
int lu_backend_check_features(uint32_t features, char *why, size_t n);

#ifdef __cplusplus
}
#endif

#endif
