/*
 * backend.c - choosing io_uring or POSIX once per process; see backend.h.
 *
 * "io_uring works" is decided by doing what the driver does: set up this thread's ring and
 * probe, once, the opcodes the operations use.  Nothing is pre-read (not
 * /proc/sys/kernel/io_uring_disabled, not RLIMIT_MEMLOCK): what io_uring_setup returns is the
 * only answer that also covers seccomp, containers and kernels we do not know.
 */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "files.h"
#include "ring.h"

#define OP(name) { IORING_OP_##name, "IORING_OP_" #name }
static const struct {
	unsigned opcode;
	const char *name;
} required_ops[] = {
	OP(READ),   OP(WRITE),    OP(OPENAT),  OP(CLOSE),    OP(STATX),    OP(FSYNC),
	OP(TIMEOUT), OP(ACCEPT),  OP(CONNECT), OP(RECV),     OP(SEND),     OP(UNLINKAT),
	OP(MKDIRAT), OP(RENAMEAT), OP(SPLICE), OP(SHUTDOWN), OP(SOCKET),
};
#undef OP

/*
 * Kernel guarantees the ring model (spec/) and the driver assume, each since Linux 5.5.
 * NODROP: a completion that finds the CQ full is kept on the overflow list, never dropped
 * (L2's kOverflow; the driver's every-operation-completes-once).  SUBMIT_STABLE: the kernel
 * has read an SQE and the data it points to once it has consumed it (L2's kGetSqe), so a slot
 * released by sq_head may be refilled while the operation is still running.
 */
#define FEAT(name) { IORING_FEAT_##name, "IORING_FEAT_" #name }
static const struct {
	uint32_t bit;
	const char *name;
} required_features[] = {
	FEAT(NODROP),
	FEAT(SUBMIT_STABLE),
};
#undef FEAT

enum { REASON_MAX = 256 };

void lu_describe_errno(char *buf, size_t n, int err)
{
	const char *name = strerrorname_np(err);
	const char *desc = strerrordesc_np(err);
	if (name)
		snprintf(buf, n, "%s (%s)", name, desc ? desc : "unknown error");
	else
		snprintf(buf, n, "errno %d", err);
}

int lu_backend_check_features(uint32_t features, char *why, size_t n)
{
	for (size_t i = 0; i < sizeof(required_features) / sizeof(required_features[0]); i++) {
		if (!(features & required_features[i].bit)) {
			snprintf(why, n, "io_uring lacks %s (io_uring_setup's features)",
				 required_features[i].name);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/*
 * 0 if io_uring can serve every operation; otherwise -errno and, in `why`, what failed.  The
 * ring that answers is this thread's driver ring, kept when it works (no second ring is made
 * for the first operation) and released when it does not, so that a process that ends up on
 * POSIX holds no ring and no descriptor of ours.
 */
static int probe_uring(char *why, size_t n)
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	if (!d) {
		char e[96];
		lu_describe_errno(e, sizeof(e), -err);
		snprintf(why, n, "io_uring_setup failed: %s", e);
		return err;
	}
	if (lu_backend_check_features(lu_driver_features(d), why, n) != 0) {
		lu_driver_release();
		return -EOPNOTSUPP;
	}
	/* A failed probe (kernels before 5.6) confirms nothing: every opcode counts as missing. */
	struct lu_ring_opcodes probe;
	lu_driver_probe(d, &probe);
	for (size_t i = 0; i < sizeof(required_ops) / sizeof(required_ops[0]); i++) {
		if (!lu_ring_opcodes_has(&probe, required_ops[i].opcode)) {
			snprintf(why, n, "io_uring lacks %s (IORING_REGISTER_PROBE)",
				 required_ops[i].name);
			lu_driver_release();
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int lu_backend_decide(const char *env_value, struct lu_backend *out)
{
	static _Thread_local char reason[REASON_MAX];
	char why[REASON_MAX - 48];  /* room for the longest prefix below */
	int err = 0;

	out->reason = reason;
	out->kind = LU_BACKEND_POSIX;
	if (env_value == NULL || env_value[0] == '\0' || strcmp(env_value, "auto") == 0) {
		out->requested = "auto";
		if (probe_uring(why, sizeof(why)) == 0) {
			out->kind = LU_BACKEND_URING;
			snprintf(reason, sizeof(reason), "auto: io_uring works; using uring");
		} else {
			snprintf(reason, sizeof(reason), "auto: %s; using posix", why);
		}
	} else if (strcmp(env_value, "posix") == 0) {
		out->requested = "posix";
		snprintf(reason, sizeof(reason), "posix: requested by LEAN_IO_BACKEND");
	} else if (strcmp(env_value, "uring") == 0) {
		out->requested = "uring";
		err = probe_uring(why, sizeof(why));
		if (err == 0) {
			out->kind = LU_BACKEND_URING;
			snprintf(reason, sizeof(reason), "uring: requested by LEAN_IO_BACKEND");
		} else {
			snprintf(reason, sizeof(reason),
				 "uring: requested by LEAN_IO_BACKEND, but %s", why);
		}
	} else {
		out->requested = "invalid";
		snprintf(reason, sizeof(reason),
			 "LEAN_IO_BACKEND=\"%.64s\" is not one of uring, posix, auto", env_value);
		err = -EINVAL;
	}
	return err;
}

static pthread_once_t decide_once = PTHREAD_ONCE_INIT;
static struct lu_backend chosen;
static int chosen_err;
static char chosen_reason[REASON_MAX];

static void decide_process_wide(void)
{
	/* Registered files are an optimisation with identical results: off only to measure it. */
	const char *fixed = getenv("LEAN_IO_REGISTERED_FILES");
	if (fixed && strcmp(fixed, "0") == 0)
		lu_files_set_entries(0);
	chosen_err = lu_backend_decide(getenv("LEAN_IO_BACKEND"), &chosen);
	snprintf(chosen_reason, sizeof(chosen_reason), "%s", chosen.reason);
	chosen.reason = chosen_reason;
}

int lu_backend_init(void)
{
	pthread_once(&decide_once, decide_process_wide);
	return chosen_err;
}

const struct lu_backend *lu_backend(void)
{
	lu_backend_init();
	return &chosen;
}

int lu_backend_is_uring(void)
{
	return lu_backend()->kind == LU_BACKEND_URING;
}

int lu_backend_is_forced(void)
{
	return strcmp(lu_backend()->requested, "uring") == 0;
}
