/*
 * timeops.c - sleeping: an IORING_OP_TIMEOUT on the ring, clock_nanosleep for POSIX.  Both
 * measure CLOCK_MONOTONIC and never return before the requested time has passed.
 */
#include "ops_impl.h"

#include <time.h>

#define NS_PER_S 1000000000ull

/* A pure timeout (count 0) completes with -ETIME when it expires: that is the success case. */
int lu_uring_sleep_ns(uint64_t ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(ns / NS_PER_S),
		.tv_nsec = (long long)(ns % NS_PER_S),
	};
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_TIMEOUT, -1);
	int r;

	sqe.addr = (uintptr_t)&ts;
	sqe.len = 1;
	r = lu_run(&sqe);
	return r == -ETIME ? 0 : r;
}

/* An absolute deadline makes a restart after EINTR sleep exactly the remaining time. */
int lu_posix_sleep_ns(uint64_t ns)
{
	struct timespec deadline;
	int r;

	if (clock_gettime(CLOCK_MONOTONIC, &deadline) < 0)
		return -errno;
	ns += (uint64_t)deadline.tv_nsec;
	deadline.tv_sec += (time_t)(ns / NS_PER_S);
	deadline.tv_nsec = (long)(ns % NS_PER_S);
	do
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
	while (r == EINTR);
	return -r;
}
