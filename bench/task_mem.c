// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * task_mem [-n TASKS]: heap bytes the correlator (user/correlator.c) keeps
 * per task, for TASKS tasks still alive (spawned, polled, woken, not done)
 * and for TASKS finished ones, measured with glibc's allocator statistics
 * (mallinfo2: bytes in use), fed with the records asyncscope's BPF side
 * emits.  The kernel side keeps nothing per task (its maps are per thread
 * and per vtable), so this is all of asyncscope's memory per task.
 *
 * One JSON line on stdout.  No root needed.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "asyncscope.h"
#include "correlator.h"

#define TM_PID	4242

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void hdr(struct as_event_hdr *h, unsigned int type, unsigned int size, uint64_t ts)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->size = size;
	h->pid = TM_PID;
	h->tid = TM_PID + 1;
	h->ts_ns = ts;
}

/* spawn, a waker clone, a wake, a poll and (done) the completion of task id */
static int feed_task(struct correlator *c, uint64_t id, uint64_t *ts, int done)
{
	struct as_ev_spawn sp;
	struct as_ev_waker wk;
	struct as_ev_poll po;
	struct as_ev_task co;
	int err;

	memset(&sp, 0, sizeof(sp));
	hdr(&sp.h, AS_EV_SPAWN, sizeof(sp), ++*ts);
	sp.task_id = id;
	sp.kind = AS_TASK_ASYNC;
	sp.type_idx = id & 7;
	sp.line = 100 + (id & 3);
	sp.col = 9;
	sp.file_len = 13;
	memcpy(sp.file, "src/server.rs", 13);
	err = correlator__feed(c, &sp, sizeof(sp));

	memset(&wk, 0, sizeof(wk));
	hdr(&wk.h, AS_EV_WAKER, sizeof(wk), ++*ts);
	wk.task_id = id;
	wk.op = AS_WAKER_CLONE;
	wk.type_idx = id & 7;
	err = err ?: correlator__feed(c, &wk, sizeof(wk));
	hdr(&wk.h, AS_EV_WAKER, sizeof(wk), ++*ts);
	wk.op = AS_WAKE_BY_VAL;
	err = err ?: correlator__feed(c, &wk, sizeof(wk));

	memset(&po, 0, sizeof(po));
	po.start_ns = ++*ts;
	hdr(&po.h, AS_EV_POLL, sizeof(po), ++*ts);
	po.task_id = id;
	po.type_idx = id & 7;
	err = err ?: correlator__feed(c, &po, sizeof(po));
	if (err || !done)
		return err;

	memset(&co, 0, sizeof(co));
	hdr(&co.h, AS_EV_COMPLETE, sizeof(co), ++*ts);
	co.task_id = id;
	co.type_idx = id & 7;
	return correlator__feed(c, &co, sizeof(co));
}

/* Heap bytes per task for n tasks fed to a fresh correlator. */
static int measure(uint64_t n, int done, double *per_task)
{
	struct correlator_opts o = { .sz = sizeof(o) };
	struct correlator *c;
	uint64_t ts = 1000000;
	size_t before, after;
	int err = 0;

	before = heap_in_use();
	c = correlator__new(&o);
	if (!c)
		return -errno;
	correlator__set_process(c, TM_PID, "task_mem");
	for (uint64_t id = 1; id <= n && !err; id++)
		err = feed_task(c, id, &ts, done);
	if (!err && correlator__nr_tasks(c) != n)
		err = -EPROTO;
	after = heap_in_use();
	correlator__free(c);
	*per_task = ((double)after - (double)before) / (double)n;
	return err;
}

int main(int argc, char **argv)
{
	double live, done;
	uint64_t n = 1000000;
	int err, opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		char *end;

		if (opt != 'n')
			goto usage;
		errno = 0;
		n = strtoull(optarg, &end, 10);
		if (errno || *end || n < 1000 || n > 100000000)
			goto usage;
	}
	if (optind != argc)
		goto usage;
	/* no trimming or mmap thresholds moving under the measurement */
	mallopt(M_TRIM_THRESHOLD, -1);
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	err = measure(n, 0, &live);
	if (!err)
		err = measure(n, 1, &done);
	if (err) {
		fprintf(stderr, "task_mem: %s\n", strerror(-err));
		return 1;
	}
	printf("{\"tasks\":%llu,\"live_bytes_per_task\":%.1f,\"finished_bytes_per_task\":%.1f,"
	       "\"sizeof_as_task\":%zu}\n",
	       (unsigned long long)n, live, done, sizeof(struct as_task));
	return 0;
usage:
	fprintf(stderr, "usage: task_mem [-n TASKS]   (1000 .. 100000000, default 1000000)\n");
	return 2;
}
