/*
 * lu_copy - the copy engine alone (copy.h), without Lean: the C reference point for urcp.
 *
 *     LEAN_IO_BACKEND=uring|posix lu_copy [-j N] [-d DEPTH] [-b BLOCK] SRC... DSTDIR
 *
 * The files are dealt round-robin to N threads (default 4), as urcp deals them to its tasks;
 * each thread copies its files one after the other with lu_copy_file, on its own ring under
 * io_uring.  Exits non-zero, naming the file, on the first error of any thread.
 */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "copy.h"

struct worker {
	pthread_t thread;
	char **srcs;
	int nsrcs, index, stride;
	const char *dst_dir;
	struct lu_copy_opts opts;
	int err;
};

static void *run(void *p)
{
	struct worker *w = p;
	char dst[4096];

	for (int i = w->index; i < w->nsrcs; i += w->stride) {
		char *copy = strdup(w->srcs[i]);
		snprintf(dst, sizeof dst, "%s/%s", w->dst_dir, basename(copy));
		free(copy);
		struct lu_copy_result res;
		int r = lu_copy_file(w->srcs[i], dst, &w->opts, &res);
		if (r < 0) {
			fprintf(stderr, "lu_copy: %s: %s\n",
				res.failed == LU_COPY_DST ? dst : w->srcs[i], strerror(-r));
			w->err = r;
			break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct lu_copy_opts opts = {0};
	int jobs = 4, c;

	while ((c = getopt(argc, argv, "j:d:b:")) != -1) {
		if (c == 'j')
			jobs = atoi(optarg);
		else if (c == 'd')
			opts.depth = (unsigned)atoi(optarg);
		else if (c == 'b')
			opts.block = (unsigned)atoi(optarg);
		else
			jobs = 0;
	}
	int nsrcs = argc - optind - 1;
	if (jobs <= 0 || nsrcs < 1) {
		fprintf(stderr, "usage: lu_copy [-j N] [-d DEPTH] [-b BLOCK] SRC... DSTDIR\n");
		return 2;
	}
	if (lu_backend_init() < 0) {
		fprintf(stderr, "lu_copy: %s\n", lu_backend()->reason);
		return 1;
	}
	if (jobs > nsrcs)
		jobs = nsrcs;
	struct worker *w = calloc((size_t)jobs, sizeof *w);
	if (!w)
		return 1;
	for (int i = 0; i < jobs; i++) {
		w[i] = (struct worker){.srcs = argv + optind, .nsrcs = nsrcs, .index = i,
				       .stride = jobs, .dst_dir = argv[argc - 1], .opts = opts};
		if (pthread_create(&w[i].thread, NULL, run, &w[i]) != 0)
			return 1;
	}
	int status = 0;
	for (int i = 0; i < jobs; i++) {
		pthread_join(w[i].thread, NULL);
		status |= w[i].err != 0;
	}
	free(w);
	return status;
}
