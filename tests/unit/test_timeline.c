// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The timeline the exporters draw, from hand-made records with exact times. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "correlator.h"
#include "timeline.h"
#include "timeline_records.h"

/* task indices, in the order first seen */
enum { A, B, C, D };

/* A poll still running at the end, as the BPF per-thread map shows it. */
static int in_progress(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t id,
		       uint32_t type_idx, uint64_t start_ns)
{
	struct as_poll_frame f = { .task_id = id, .type_idx = type_idx, .start_ns = start_ns };

	return correlator__poll_in_progress(c, pid, tid, &f);
}

static int setup(void **state)
{
	struct timeline *tl = timeline__new();

	assert_non_null(tl);
	assert_int_equal(tr_timeline(tl), 0);
	*state = tl;
	return 0;
}

static int teardown(void **state)
{
	timeline__free(*state);
	return 0;
}

static void test_tasks(void **state)
{
	struct timeline *tl = *state;
	const struct tl_task *t;

	assert_int_equal(timeline__nr_tasks(tl), 4);

	t = timeline__task(tl, A);
	assert_int_equal(t->id, 1);
	assert_int_equal(t->flags, TL_TASK_SPAWN_SEEN | TL_TASK_COMPLETED | TL_TASK_CLOSED |
				   TL_TASK_COMPLETE_IN_POLL);
	assert_int_equal(t->created_ns, 100);
	assert_int_equal(t->spawn_ns, 100);
	assert_int_equal(t->closed_ns, 550);
	assert_int_equal(t->complete_ns, 540);
	assert_int_equal(t->nr_polls, 3);
	assert_int_equal(t->nr_wakes, 2);
	assert_int_equal(t->kind, AS_TASK_ASYNC);
	assert_string_equal(t->location, "src/main.rs:10:5");
	assert_string_equal(timeline__task_name(tl, t), "app::alpha");
	assert_string_equal(timeline__thread(tl, t->spawn_thread)->name, "worker-0");

	t = timeline__task(tl, B);
	assert_int_equal(t->id, 2);
	assert_int_equal(t->parent_id, 1);
	assert_int_equal(t->flags, TL_TASK_SPAWN_SEEN);
	assert_int_equal(t->closed_ns, TR_END);
	assert_int_equal(t->nr_polls, 2);
	assert_string_equal(timeline__task_name(tl, t), "app::beta");
	assert_ptr_equal(t->location, timeline__task(tl, A)->location);	/* interned */

	t = timeline__task(tl, C);
	assert_int_equal(t->id, 3);
	assert_int_equal(t->flags, TL_TASK_LATE);
	assert_string_equal(tl_task__origin(t), "late");
	assert_string_equal(tl_task__kind_name(t), "?");
	assert_int_equal(t->created_ns, 600);
	assert_int_equal(t->type_idx, AS_TYPE_UNKNOWN);
	assert_null(timeline__task_name(tl, t));
	assert_null(t->location);
	assert_int_equal(t->spawn_thread, TL_NONE);
	assert_int_equal(t->nr_polls, 2);

	t = timeline__task(tl, D);
	assert_int_equal(t->id, 4);
	assert_int_equal(t->created_ns, 700);
	assert_int_equal(t->nr_polls, 0);
	assert_int_equal(t->nr_wakes, 0);
	assert_ptr_equal(timeline__find_task(tl, TR_PID, 4), t);
	assert_null(timeline__find_task(tl, TR_PID, 5));
	assert_null(timeline__find_task(tl, TR_PID + 1, 4));
}

static void test_stats_and_meta(void **state)
{
	struct timeline *tl = *state;
	const struct timeline_stats *st = timeline__stats(tl);
	const struct tl_proc *p;
	int64_t off;

	/* 17 good records, 6 malformed */
	assert_int_equal(st->records, 23);
	assert_int_equal(st->malformed, 6);
	assert_int_equal(st->by_type[AS_EV_POLL], 7);
	assert_int_equal(st->by_type[AS_EV_WAKER], 5);
	assert_int_equal(st->by_type[AS_EV_SPAWN], 4);
	assert_int_equal(st->by_type[AS_EV_COMPLETE], 1);
	assert_int_equal(st->duplicates, 1);
	assert_int_equal(st->after_close, 1);
	assert_int_equal(st->clipped, 0);

	assert_int_equal(timeline__start_ns(tl), 100);
	assert_int_equal(timeline__end_ns(tl), TR_END);
	assert_int_equal(timeline__realtime_offset(tl, &off), -ENOENT);
	assert_int_equal(timeline__nr_procs(tl), 1);
	p = timeline__proc(tl, 0);
	assert_int_equal(p->pid, TR_PID);
	assert_string_equal(p->name, "server");
	assert_int_equal(timeline__nr_threads(tl), 3);
	assert_int_equal(timeline__thread(tl, 0)->tid, 10);
	assert_int_equal(timeline__thread(tl, 1)->tid, 11);
	assert_int_equal(timeline__thread(tl, 2)->tid, 12);
	assert_null(timeline__thread(tl, 2)->name);
	assert_null(timeline__thread(tl, 3));

	/* finished: read-only */
	assert_int_equal(timeline__finish(tl, TR_END), -EBUSY);
	assert_int_equal(timeline__poll_in_progress(tl, TR_PID, 10, 1, 0, 5), -EBUSY);
}

struct want_poll {
	int task;
	uint32_t tid;
	uint64_t start, end;
	uint32_t poll_no, flags, wake;
};

static void expect_poll(struct timeline *tl, size_t idx, const struct want_poll *w)
{
	const struct tl_poll *p = timeline__poll(tl, idx);

	assert_non_null(p);
	assert_int_equal(p->task, w->task);
	assert_int_equal(timeline__thread(tl, p->thread)->tid, w->tid);
	assert_int_equal(p->start_ns, w->start);
	assert_int_equal(p->end_ns, w->end);
	assert_int_equal(p->poll_no, w->poll_no);
	assert_int_equal(p->flags, w->flags);
	assert_int_equal(p->wake, w->wake);
}

/* By task, in start order; numbered; reordered records sorted; the stray poll gone. */
static void test_polls(void **state)
{
	static const struct want_poll want[] = {
		{ A, 10, 150, 200, 1, 0, 0 },			/* flow from its spawn */
		{ A, 11, 300, 350, 2, 0, 1 },			/* the self-wake at 190 */
		{ A, 11, 500, 550, 3, TL_POLL_READY, 2 },	/* B's wake at 400 */
		{ B, 10, 170, 180, 1, TL_POLL_NESTED, 0 },
		{ B, 10, 390, 420, 2, 0, 3 },			/* the wake at 250 */
		{ C, 10, 600, 650, 1, 0, 0 },
		{ C, 11, 900, TR_END, 2, TL_POLL_RUNNING, 0 },
	};
	struct timeline *tl = *state;
	size_t i;

	assert_int_equal(timeline__nr_polls(tl), 7);
	for (i = 0; i < 7; i++)
		expect_poll(tl, i, &want[i]);
	assert_null(timeline__poll(tl, 7));
	assert_int_equal(timeline__task(tl, A)->first_poll, 0);
	assert_int_equal(timeline__task(tl, B)->first_poll, 3);
	assert_int_equal(timeline__task(tl, C)->first_poll, 5);
}

/* By thread, by start; the enclosing poll before the one nested in it. */
static void test_thread_order(void **state)
{
	static const size_t want[] = { 0, 3, 4, 5, 1, 2, 6 };
	struct timeline *tl = *state;
	size_t k;

	for (k = 0; k < 7; k++)
		assert_int_equal(timeline__poll_by_thread(tl, k), want[k]);
	assert_int_equal(timeline__poll_by_thread(tl, 7), TL_NONE);
}

static void test_wakes(void **state)
{
	struct timeline *tl = *state;
	const struct tl_wake *w;

	/* clones and drops are not kept */
	assert_int_equal(timeline__nr_wakes(tl), 3);

	w = timeline__wake(tl, 0);
	assert_int_equal(w->ts_ns, 190);
	assert_int_equal(w->task, A);
	assert_int_equal(w->waker_id, 1);
	assert_int_equal(w->flags, TL_WAKE_BY_REF | TL_WAKE_SELF | TL_WAKE_CAUSED);
	assert_int_equal(timeline__thread(tl, w->thread)->tid, 10);

	w = timeline__wake(tl, 1);
	assert_int_equal(w->ts_ns, 400);
	assert_int_equal(w->task, A);
	assert_int_equal(w->waker_id, 2);
	assert_int_equal(w->flags, TL_WAKE_CAUSED);

	w = timeline__wake(tl, 2);
	assert_int_equal(w->ts_ns, 250);
	assert_int_equal(w->task, B);
	assert_int_equal(w->waker_id, 0);
	assert_int_equal(w->flags, TL_WAKE_CAUSED);
	assert_int_equal(timeline__thread(tl, w->thread)->tid, 12);
	assert_int_equal(timeline__task(tl, B)->first_wake, 2);
}

#define MAX_SEGS	16

struct segs {
	struct tl_seg s[MAX_SEGS];
	int n;
};

static int collect(void *ctx, const struct tl_seg *seg)
{
	struct segs *sg = ctx;

	if (sg->n >= MAX_SEGS)
		return -E2BIG;
	sg->s[sg->n++] = *seg;
	return 0;
}

static void expect_segs(struct timeline *tl, size_t task, const struct tl_seg *want, int n)
{
	struct segs got = { .n = 0 };
	int i;

	assert_int_equal(timeline__task_segments(tl, task, collect, &got), 0);
	assert_int_equal(got.n, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(tl_seg_state_name(got.s[i].state),
				    tl_seg_state_name(want[i].state));
		assert_int_equal(got.s[i].start_ns, want[i].start_ns);
		assert_int_equal(got.s[i].end_ns, want[i].end_ns);
		if (want[i].state == TL_SEG_RUNNING)
			assert_int_equal(got.s[i].poll, want[i].poll);
	}
}

#define SEG(s, e, st, p)	{ .start_ns = s, .end_ns = e, .state = TL_SEG_##st, .poll = p }

static void test_segments(void **state)
{
	/* runnable from its spawn; from the end of A#1 (self-woken in it); from the wake at 400 */
	static const struct tl_seg a[] = {
		SEG(100, 150, SCHEDULED, 0), SEG(150, 200, RUNNING, 0),
		SEG(200, 300, SCHEDULED, 0), SEG(300, 350, RUNNING, 1),
		SEG(350, 400, IDLE, 0), SEG(400, 500, SCHEDULED, 0),
		SEG(500, 550, RUNNING, 2),
	};
	static const struct tl_seg b[] = {
		SEG(160, 170, SCHEDULED, 0), SEG(170, 180, RUNNING, 3),
		SEG(180, 250, IDLE, 0), SEG(250, 390, SCHEDULED, 0),
		SEG(390, 420, RUNNING, 4), SEG(420, TR_END, IDLE, 0),
	};
	/* late: first seen at its poll; the running poll lasts to the end */
	static const struct tl_seg c[] = {
		SEG(600, 650, RUNNING, 5), SEG(650, 900, IDLE, 0), SEG(900, TR_END, RUNNING, 6),
	};
	/* never polled: scheduled since its spawn */
	static const struct tl_seg d[] = { SEG(700, TR_END, SCHEDULED, 0) };
	struct timeline *tl = *state;
	struct segs sg = { .n = 0 };

	expect_segs(tl, A, a, 7);
	expect_segs(tl, B, b, 6);
	expect_segs(tl, C, c, 3);
	expect_segs(tl, D, d, 1);
	assert_int_equal(timeline__task_segments(tl, 4, collect, &sg), -EINVAL);
}

static uint64_t seg_sum(struct timeline *tl, size_t task, enum tl_seg_state st)
{
	struct segs sg = { .n = 0 };
	uint64_t sum = 0;
	int i;

	assert_int_equal(timeline__task_segments(tl, task, collect, &sg), 0);
	for (i = 0; i < sg.n; i++)
		if (sg.s[i].state == st)
			sum += sg.s[i].end_ns - sg.s[i].start_ns;
	return sum;
}

static int cmp_ts(const void *a, const void *b)
{
	const union tr_rec *x = a, *y = b;

	if (x->h.ts_ns != y->h.ts_ns)
		return x->h.ts_ns < y->h.ts_ns ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * The segments add up to the correlator's busy / scheduled / idle for the
 * same records (fed to it in emission order, where its streaming decisions
 * are exact), and the poll counts agree.
 */
static void test_matches_correlator(void **state)
{
	struct correlator_opts opts = { .sz = sizeof(opts) };
	struct timeline *tl = *state;
	struct correlator *c = correlator__new(&opts);
	struct tr_list l;
	size_t i;

	assert_non_null(c);
	tr_scenario(&l);
	/* qsort is not stable: cmp_ts breaks ties by position */
	qsort(l.rec, l.n, sizeof(l.rec[0]), cmp_ts);
	for (i = 0; i < (size_t)l.n; i++)
		assert_int_equal(correlator__feed(c, &l.rec[i], l.rec[i].h.size), 0);
	assert_int_equal(in_progress(c, TR_PID, 11, 3, AS_TYPE_UNKNOWN, 900), 0);
	correlator__finish(c, TR_END);

	for (i = 0; i < timeline__nr_tasks(tl); i++) {
		const struct tl_task *t = timeline__task(tl, i);
		const struct as_task *ct = correlator__find(c, TR_PID, t->id);
		struct task_times tm;
		uint64_t recorded = 0, k;

		assert_non_null(ct);
		as_task__times(ct, TR_END, &tm);
		assert_int_equal(seg_sum(tl, i, TL_SEG_RUNNING), tm.busy_ns);
		assert_int_equal(seg_sum(tl, i, TL_SEG_SCHEDULED), tm.sched_ns);
		assert_int_equal(seg_sum(tl, i, TL_SEG_IDLE), tm.idle_ns);
		assert_int_equal(t->closed_ns - t->created_ns, tm.total_ns);
		for (k = 0; k < t->nr_polls; k++)
			if (!(timeline__poll(tl, t->first_poll + k)->flags & TL_POLL_RUNNING))
				recorded++;
		assert_int_equal(recorded, ct->polls);
	}
	correlator__free(c);
}

static struct timeline *fresh(void)
{
	struct timeline *tl = timeline__new();

	assert_non_null(tl);
	return tl;
}

static void feed_poll(struct timeline *tl, uint32_t tid, uint64_t id, uint64_t s, uint64_t e,
		      uint32_t flags)
{
	struct tr_list l = { .n = 0 };

	tr_poll(&l, tid, id, 1, s, e, flags);
	assert_int_equal(timeline__feed(tl, &l.rec[0], l.rec[0].h.size), 0);
}

/*
 * A poll that would stick out of the one it started in, on one thread, is
 * clipped to it; a poll of a task that outlasts the start of its next one
 * (a late poll record) ends there.
 */
static void test_clipping(void **state)
{
	struct timeline *tl = fresh();
	const struct tl_poll *p;

	(void)state;
	feed_poll(tl, 10, 1, 100, 200, 0);
	feed_poll(tl, 10, 2, 150, 250, 0);
	feed_poll(tl, 11, 3, 100, 200, 0);
	feed_poll(tl, 12, 3, 150, 180, 0);
	assert_int_equal(timeline__finish(tl, 0), 0);
	assert_int_equal(timeline__end_ns(tl), 250);
	assert_int_equal(timeline__stats(tl)->clipped, 2);

	p = timeline__poll(tl, 1);
	assert_int_equal(p->task, 1);
	assert_int_equal(p->end_ns, 200);
	assert_int_equal(p->flags, TL_POLL_CLIPPED);
	p = timeline__poll(tl, 2);
	assert_int_equal(p->start_ns, 100);
	assert_int_equal(p->end_ns, 150);
	assert_int_equal(p->flags, TL_POLL_CLIPPED);
	assert_int_equal(timeline__poll(tl, 3)->poll_no, 2);
	timeline__free(tl);
}

/*
 * A completion outside any poll closes the task, never before the end of a
 * poll that started earlier; a running poll whose record came after all is
 * counted once; a task spawned while traced without a spawn record (hooks
 * inlined) is told from a late one by the first id; a task without a spawn
 * record is credited to the first wake before its first poll.
 */
static void test_close_and_origin(void **state)
{
	struct timeline *tl = fresh();
	struct tr_list l = { .n = 0 };
	const struct tl_task *t;
	int i;

	(void)state;
	assert_int_equal(timeline__set_first_id(tl, TR_PID, 10), 0);
	tr_waker(&l, 10, 11, 0, AS_WAKE_BY_VAL, 50);
	tr_poll(&l, 10, 11, 1, 100, 200, 0);
	tr_task_ev(&l, AS_EV_COMPLETE, 11, 11, 150, 0);
	tr_poll(&l, 10, 9, 1, 100, 120, 0);
	for (i = 0; i < l.n; i++)
		assert_int_equal(timeline__feed(tl, &l.rec[i], l.rec[i].h.size), 0);
	assert_int_equal(timeline__poll_in_progress(tl, TR_PID, 10, 9, 1, 100), 0);
	assert_int_equal(timeline__finish(tl, 300), 0);

	t = timeline__find_task(tl, TR_PID, 11);
	assert_int_equal(t->flags, TL_TASK_INFERRED | TL_TASK_COMPLETED | TL_TASK_CLOSED);
	assert_string_equal(tl_task__origin(t), "inferred");
	assert_int_equal(t->created_ns, 50);
	assert_int_equal(t->closed_ns, 200);
	assert_int_equal(timeline__poll(tl, t->first_poll)->wake, 1);
	assert_true(timeline__wake(tl, 0)->flags & TL_WAKE_CAUSED);

	t = timeline__find_task(tl, TR_PID, 9);
	assert_int_equal(t->flags, TL_TASK_LATE);
	assert_int_equal(t->nr_polls, 1);
	assert_int_equal(timeline__poll(tl, t->first_poll)->end_ns, 120);
	assert_int_equal(timeline__poll(tl, t->first_poll)->flags, 0);
	timeline__free(tl);
}

/*
 * Tasks and not one poll (spawns and wakes only): they live to the end.
 * There were no polls to settle, and finish once did NULL + 0 (undefined;
 * clang's UBSan stops there, gcc's does not check it: make SAN=1 CC=clang):
 * tests/fuzz/regress/events.
 */
static void test_no_polls(void **state)
{
	struct timeline *tl = fresh();
	struct tr_list l = { .n = 0 };
	const struct tl_task *t;

	(void)state;
	tr_spawn(&l, 10, 1, 0, TR_TYPE_A, 100);
	tr_waker(&l, 12, 1, 0, AS_WAKE_BY_VAL, 150);
	for (int i = 0; i < l.n; i++)
		assert_int_equal(timeline__feed(tl, &l.rec[i], l.rec[i].h.size), 0);
	assert_int_equal(timeline__finish(tl, 300), 0);
	assert_int_equal(timeline__nr_polls(tl), 0);
	assert_int_equal(timeline__nr_tasks(tl), 1);
	t = timeline__task(tl, 0);
	assert_int_equal(t->nr_polls, 0);
	assert_int_equal(t->closed_ns, 300);
	assert_false(t->flags & TL_TASK_CLOSED);
	timeline__free(tl);
}

/* Names become valid UTF-8 without control characters; misuse is refused. */
static void test_names_and_misuse(void **state)
{
	struct timeline *tl = fresh();

	(void)state;
	assert_int_equal(timeline__set_thread(tl, 1, 2, "w\x01" "\xff" "k\xc3\xa9"), 0);
	assert_string_equal(timeline__thread(tl, 0)->name, "w??k\xc3\xa9");
	assert_int_equal(timeline__set_process(tl, 1, NULL), -EINVAL);
	assert_int_equal(timeline__set_type(tl, 1, AS_TYPE_UNKNOWN, "x", 0), -EINVAL);
	assert_int_equal(timeline__poll_in_progress(tl, 1, 2, 0, 1, 5), -EINVAL);
	assert_int_equal(timeline__set_type(tl, 1, 7, "first", AS_TASK_BLOCKING), 0);
	assert_int_equal(timeline__set_type(tl, 1, 7, NULL, 0), 0);
	assert_string_equal(timeline__type_name(tl, 1, 7), "first");
	timeline__set_realtime_offset(tl, -5);
	assert_int_equal(timeline__task_segments(tl, 0, collect, NULL), -EINVAL);
	assert_int_equal(timeline__finish(tl, 0), 0);
	assert_int_equal(timeline__nr_polls(tl), 0);
	assert_int_equal(timeline__start_ns(tl), 0);
	timeline__free(tl);
	timeline__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_and_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_polls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_matches_correlator, setup, teardown),
		cmocka_unit_test(test_clipping),
		cmocka_unit_test(test_close_and_origin),
		cmocka_unit_test(test_no_polls),
		cmocka_unit_test(test_names_and_misuse),
	};

	return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
