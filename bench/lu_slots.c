/*
 * lu_slots.c - what the slot table (slots.h) costs over the driver it sits on.
 *
 * Prints ns per NOP round trip (submit one, wait for it) through lu_run (the ring's floor, as
 * lu_micro prints it), through lu_submit/lu_wait, and through lu_slots; then NOPs per second
 * with 10,000 in flight through lu_submit/lu_wait and through lu_slots.  bench/ring.sh sets the
 * Lean API (bench/lean/RingNop.lean) beside these.  Best of 5.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "slots.h"

#define REPS 5
#define ROUND_TRIPS 200000
#define IN_FLIGHT 10000
#define ROUNDS 20

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "lu_slots: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void ignore(void *ctx, const struct lu_slot_cqe *c)
{
	(void)c;
	++*(long *)ctx;
}

enum path { VIA_RUN, VIA_BATCH, VIA_SLOTS };

/* `batch` NOPs submitted, then all awaited, `n` times over; ns per NOP, best of REPS. */
static double time_nops(enum path p, long n, unsigned batch)
{
	int err = 0;
	struct lu_driver *d = lu_driver_get(&err);
	struct lu_slots *t = lu_slots_get(NULL, LU_SLOTS_RING, &err);
	if (!d || !t)
		die("setup", err);
	struct io_uring_sqe nop = { .opcode = IORING_OP_NOP };
	struct io_uring_cqe cqe;
	double best = 1e30;

	for (int rep = 0; rep < REPS; rep++) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			if (p == VIA_RUN) {
				if ((err = lu_run(&nop)) < 0)
					die("lu_run", err);
				continue;
			}
			for (unsigned k = 0; k < batch; k++) {
				if (p == VIA_BATCH) {
					err = lu_submit(d, &nop);
				} else {
					int s = lu_slots_prepare(t, k, 0, 0);
					err = s < 0 ? s : lu_slots_submit(t, s, &nop);
				}
				if (err < 0)
					die("submit", err);
			}
			long got = 0;
			while (got < batch) {
				if (p == VIA_BATCH) {
					if ((err = lu_wait(d, &cqe)) < 0)
						die("lu_wait", err);
					got++;
				} else if ((err = lu_slots_wait(t, true, ignore, &got)) < 0) {
					die("lu_slots_wait", err);
				}
			}
		}
		double per = (now_ns() - t0) / ((double)n * batch);
		if (per < best)
			best = per;
	}
	return best;
}

int main(void)
{
	double run = time_nops(VIA_RUN, ROUND_TRIPS, 1);
	double batch = time_nops(VIA_BATCH, ROUND_TRIPS, 1);
	double slots = time_nops(VIA_SLOTS, ROUND_TRIPS, 1);
	printf("NOP round trip, ns (best of %d)\n", REPS);
	printf("  %-34s %8.0f  1.00\n", "lu_run (ring floor)", run);
	printf("  %-34s %8.0f  %.2f\n", "lu_submit + lu_wait", batch, batch / run);
	printf("  %-34s %8.0f  %.2f\n", "lu_slots_submit + lu_slots_wait", slots, slots / run);
	double b = time_nops(VIA_BATCH, ROUNDS, IN_FLIGHT);
	double s = time_nops(VIA_SLOTS, ROUNDS, IN_FLIGHT);
	printf("%d NOPs in flight, M ops/s (best of %d)\n", IN_FLIGHT, REPS);
	printf("  %-34s %8.2f\n", "lu_submit + lu_wait", 1e3 / b);
	printf("  %-34s %8.2f  %.2f of the batch path\n", "lu_slots", 1e3 / s, b / s);
	return 0;
}
