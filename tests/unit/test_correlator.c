// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The correlator's state machine, fed hand-made records with exact times. */
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

#define PID	4242
#define TID	7
#define TYPE	3
#define MAX_EV	64

struct span_rec {
	uint64_t id;
	enum span_event ev;
	uint64_t ts;
	uint32_t tid;
};

struct fixture {
	struct correlator *c;
	struct span_rec ev[MAX_EV];
	int nr_ev;
};

static void on_span(void *ctx, const struct as_task *t, enum span_event ev, uint64_t ts,
		    uint32_t tid)
{
	struct fixture *f = ctx;

	/* Counted always, kept while there is room. */
	if (f->nr_ev < MAX_EV)
		f->ev[f->nr_ev] = (struct span_rec){ .id = t->id, .ev = ev, .ts = ts, .tid = tid };
	f->nr_ev++;
}

static struct fixture *fixture_new(size_t max_tasks)
{
	struct correlator_opts opts = { .sz = sizeof(opts), .max_tasks = max_tasks };
	struct fixture *f = calloc(1, sizeof(*f));
	struct correlator_sink sink = { .on_span = on_span };

	assert_non_null(f);
	f->c = correlator__new(&opts);
	assert_non_null(f->c);
	sink.ctx = f;
	assert_int_equal(correlator__add_sink(f->c, &sink), 0);
	return f;
}

static int setup(void **state)
{
	*state = fixture_new(0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	correlator__free(f->c);
	free(f);
	return 0;
}

static struct as_event_hdr hdr(unsigned int type, size_t size, uint32_t pid, uint64_t ts)
{
	return (struct as_event_hdr){
		.type = type, .size = size, .pid = pid, .tid = TID, .cpu = 0, .ts_ns = ts,
	};
}

static int poll_pid(struct correlator *c, uint32_t pid, uint64_t id, uint64_t s, uint64_t e,
		    uint32_t flags)
{
	struct as_ev_poll r = {
		.h = hdr(AS_EV_POLL, sizeof(r), pid, e),
		.task_id = id, .start_ns = s, .type_idx = TYPE, .flags = flags,
	};

	return correlator__feed(c, &r, sizeof(r));
}

static int poll(struct correlator *c, uint64_t id, uint64_t s, uint64_t e, uint32_t flags)
{
	return poll_pid(c, PID, id, s, e, flags);
}

/* A poll still running at the end, as the BPF per-thread map shows it. */
static int in_progress(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t id,
		       uint32_t type_idx, uint64_t start_ns)
{
	struct as_poll_frame f = { .task_id = id, .type_idx = type_idx, .start_ns = start_ns };

	return correlator__poll_in_progress(c, pid, tid, &f);
}

static int waker(struct correlator *c, uint64_t id, uint64_t cur, uint32_t op, uint64_t ts)
{
	struct as_ev_waker r = {
		.h = hdr(AS_EV_WAKER, sizeof(r), PID, ts),
		.task_id = id, .cur_task_id = cur, .op = op, .type_idx = AS_TYPE_UNKNOWN,
	};

	return correlator__feed(c, &r, sizeof(r));
}

static int wake(struct correlator *c, uint64_t id, uint64_t ts)
{
	return waker(c, id, 0, AS_WAKE_BY_REF, ts);
}

static struct as_ev_spawn spawn_rec(uint32_t pid, uint64_t id, uint64_t ts, const char *file)
{
	struct as_ev_spawn r = {
		.h = hdr(AS_EV_SPAWN, sizeof(r), pid, ts),
		.task_id = id, .parent_task_id = 0, .kind = AS_TASK_ASYNC,
		.type_idx = AS_TYPE_UNKNOWN, .line = 10, .col = 5,
	};

	if (file) {
		r.file_len = strlen(file);
		memcpy(r.file, file, r.file_len);
	}
	return r;
}

static int spawn_pid(struct correlator *c, uint32_t pid, uint64_t id, uint64_t ts)
{
	struct as_ev_spawn r = spawn_rec(pid, id, ts, "src/main.rs");

	return correlator__feed(c, &r, sizeof(r));
}

static int spawn(struct correlator *c, uint64_t id, uint64_t ts)
{
	return spawn_pid(c, PID, id, ts);
}

static int task_ev(struct correlator *c, unsigned int type, uint64_t id, uint64_t ts,
		   uint32_t flags)
{
	struct as_ev_task r = {
		.h = hdr(type, sizeof(r), PID, ts), .task_id = id, .flags = flags,
		.type_idx = AS_TYPE_UNKNOWN,
	};

	return correlator__feed(c, &r, sizeof(r));
}

static const struct as_task *task(struct fixture *f, uint64_t id)
{
	const struct as_task *t = correlator__find(f->c, PID, id);

	assert_non_null(t);
	return t;
}

static void expect_ev(struct fixture *f, int i, uint64_t id, enum span_event ev, uint64_t ts,
		      uint32_t tid)
{
	assert_true(i < f->nr_ev && i < MAX_EV);
	assert_int_equal(f->ev[i].id, id);
	assert_int_equal(f->ev[i].ev, ev);
	assert_int_equal(f->ev[i].ts, ts);
	assert_int_equal(f->ev[i].tid, tid);
}

static void expect_times(const struct as_task *t, uint64_t now, enum task_state st,
			 uint64_t total, uint64_t busy, uint64_t sched, uint64_t idle)
{
	struct task_times tm;

	as_task__times(t, now, &tm);
	assert_string_equal(task_state_name(tm.state), task_state_name(st));
	assert_int_equal(tm.total_ns, total);
	assert_int_equal(tm.busy_ns, busy);
	assert_int_equal(tm.sched_ns, sched);
	assert_int_equal(tm.idle_ns, idle);
}

/* spawn -> poll -> wake -> poll -> wake -> in-poll completion -> ready poll */
static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	assert_int_equal(spawn(f->c, 1, 100), 0);
	t = task(f, 1);
	expect_times(t, 120, TASK_SCHEDULED, 20, 0, 20, 0);
	assert_int_equal(poll(f->c, 1, 150, 170, 0), 0);
	expect_times(t, 190, TASK_IDLE, 90, 20, 50, 20);
	assert_int_equal(wake(f->c, 1, 200), 0);
	expect_times(t, 220, TASK_SCHEDULED, 120, 20, 70, 30);
	assert_int_equal(poll(f->c, 1, 230, 260, 0), 0);
	assert_int_equal(wake(f->c, 1, 300), 0);
	assert_int_equal(task_ev(f->c, AS_EV_COMPLETE, 1, 345, AS_TASK_IN_POLL), 0);
	assert_int_equal(t->closed_ns, 0);
	assert_int_equal(poll(f->c, 1, 340, 350, AS_POLL_READY), 0);

	assert_int_equal(t->closed_ns, 350);
	assert_int_equal(t->created_ns, 100);
	assert_int_equal(t->polls, 3);
	assert_int_equal(t->wakes, 2);
	assert_int_equal(t->self_wakes, 0);
	assert_int_equal(t->busy_ns, 60);
	assert_int_equal(t->sched_ns, 120);
	assert_int_equal(t->first_poll_ns, 150);
	assert_int_equal(t->last_poll_start_ns, 340);
	assert_int_equal(t->last_poll_end_ns, 350);
	assert_int_equal(t->last_wake_ns, 300);
	assert_int_equal(t->kind, AS_TASK_ASYNC);
	assert_int_equal(t->type_idx, TYPE);
	assert_int_equal(t->flags, TASK_F_SPAWN_SEEN | TASK_F_COMPLETED);
	assert_string_equal(t->location, "src/main.rs:10:5");
	/* done: times are frozen at the close, whatever now is */
	expect_times(t, 999999, TASK_DONE, 250, 60, 120, 70);

	assert_int_equal(f->nr_ev, 10);
	expect_ev(f, 0, 1, SPAN_CREATED, 100, TID);
	expect_ev(f, 1, 1, SPAN_ENTERED, 150, TID);
	expect_ev(f, 2, 1, SPAN_EXITED, 170, TID);
	expect_ev(f, 3, 1, SPAN_WOKEN, 200, TID);
	expect_ev(f, 4, 1, SPAN_ENTERED, 230, TID);
	expect_ev(f, 5, 1, SPAN_EXITED, 260, TID);
	expect_ev(f, 6, 1, SPAN_WOKEN, 300, TID);
	expect_ev(f, 7, 1, SPAN_ENTERED, 340, TID);
	expect_ev(f, 8, 1, SPAN_EXITED, 350, TID);
	expect_ev(f, 9, 1, SPAN_CLOSED, 350, TID);

	assert_int_equal(st->records, 7);
	assert_int_equal(st->by_type[AS_EV_SPAWN], 1);
	assert_int_equal(st->by_type[AS_EV_POLL], 3);
	assert_int_equal(st->by_type[AS_EV_WAKER], 2);
	assert_int_equal(st->by_type[AS_EV_COMPLETE], 1);
	assert_int_equal(st->malformed + st->duplicates + st->after_close + st->reordered +
			 st->late_tasks, 0);
	assert_int_equal(correlator__max_ts(f->c), 350);
}

/* yield_now: woken from inside its own poll, runnable again from that poll's end. */
static void test_self_wake(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	assert_int_equal(waker(f->c, 1, 1, AS_WAKE_BY_REF, 160), 0);
	poll(f->c, 1, 150, 170, 0);
	t = task(f, 1);
	assert_int_equal(t->self_wakes, 1);
	assert_int_equal(t->runnable_since_ns, 170);
	expect_times(t, 190, TASK_SCHEDULED, 90, 20, 70, 0);
	poll(f->c, 1, 200, 210, 0);
	assert_int_equal(t->sched_ns, 50 + 30);
	assert_int_equal(t->runnable_since_ns, 0);
	expect_times(t, 300, TASK_IDLE, 200, 30, 80, 90);
	/* the wake is reported before the poll that contains it */
	expect_ev(f, 1, 1, SPAN_WOKEN, 160, TID);
	expect_ev(f, 2, 1, SPAN_ENTERED, 150, TID);
}

/* The earliest of several wakes before a poll starts its scheduled time. */
static void test_wake_before_poll(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	wake(f->c, 1, 500);
	wake(f->c, 1, 520);
	t = task(f, 1);
	assert_int_equal(t->runnable_since_ns, 500);
	expect_times(t, 550, TASK_SCHEDULED, 450, 10, 60, 380);
	poll(f->c, 1, 600, 610, 0);
	assert_int_equal(t->sched_ns, 10 + 100);
	expect_times(t, 700, TASK_IDLE, 600, 20, 110, 470);
}

/* A wake before the poll and one during it: scheduled from the first, runnable after. */
static void test_wake_before_and_during_poll(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 10);
	poll(f->c, 1, 20, 30, 0);
	wake(f->c, 1, 40);
	wake(f->c, 1, 55);
	poll(f->c, 1, 50, 60, 0);
	t = task(f, 1);
	assert_int_equal(t->sched_ns, 10 + 10);
	assert_int_equal(t->runnable_since_ns, 60);
	expect_times(t, 100, TASK_SCHEDULED, 90, 20, 60, 10);
}

/* A wake after the poll whose record it overtook stays pending. */
static void test_wake_after_poll_overtakes(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 10);
	poll(f->c, 1, 20, 30, 0);
	wake(f->c, 1, 40);
	wake(f->c, 1, 65);
	poll(f->c, 1, 50, 60, 0);
	t = task(f, 1);
	assert_int_equal(t->sched_ns, 10 + 10);
	assert_int_equal(t->runnable_since_ns, 65);
	expect_times(t, 100, TASK_SCHEDULED, 90, 20, 55, 15);
	poll(f->c, 1, 70, 80, 0);
	assert_int_equal(t->sched_ns, 10 + 10 + 5);
	assert_int_equal(correlator__stats(f->c)->reordered, 0);
}

/* A wake delivered after the record of the poll it happened in. */
static void test_wake_during_poll_delivered_late(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 10);
	poll(f->c, 1, 20, 30, 0);
	wake(f->c, 1, 28);
	t = task(f, 1);
	assert_int_equal(t->runnable_since_ns, 30);
	poll(f->c, 1, 45, 50, 0);
	assert_int_equal(t->sched_ns, 10 + 15);
	assert_int_equal(correlator__stats(f->c)->reordered, 0);
}

static void test_first_poll_from_creation(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 1000);
	t = task(f, 1);
	/* never polled: scheduled since its creation */
	expect_times(t, 1200, TASK_SCHEDULED, 200, 0, 200, 0);
	/* a wake before the first poll does not move the start later */
	wake(f->c, 1, 1100);
	poll(f->c, 1, 1250, 1300, 0);
	assert_int_equal(t->sched_ns, 250);
	expect_times(t, 1400, TASK_IDLE, 400, 50, 250, 100);
}

static void test_complete_outside_poll(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	assert_int_equal(task_ev(f->c, AS_EV_COMPLETE, 1, 150, 0), 0);
	t = task(f, 1);
	assert_int_equal(t->closed_ns, 150);
	assert_true(t->flags & TASK_F_COMPLETED);
	expect_times(t, 1000, TASK_DONE, 50, 10, 10, 30);
	expect_ev(f, f->nr_ev - 1, 1, SPAN_CLOSED, 150, TID);
	assert_int_equal(poll(f->c, 1, 200, 210, 0), 0);
	assert_int_equal(correlator__stats(f->c)->after_close, 1);
	assert_int_equal(t->polls, 1);
}

/* The in-poll completion's poll was still running when tracing stopped. */
static void test_complete_in_running_poll(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	task_ev(f->c, AS_EV_COMPLETE, 1, 130, AS_TASK_IN_POLL);
	assert_int_equal(in_progress(f->c, PID, 9, 1, TYPE, 120), 0);
	t = task(f, 1);
	assert_int_equal(t->closed_ns, 0);
	expect_times(t, 125, TASK_RUNNING, 25, 5, 20, 0);
	correlator__finish(f->c, 500);
	assert_int_equal(t->closed_ns, 130);
	assert_int_equal(t->flags & TASK_F_IN_POLL, 0);
	expect_times(t, 500, TASK_DONE, 30, 10, 20, 0);
	assert_int_equal(f->nr_ev, 4);
	expect_ev(f, 0, 1, SPAN_CREATED, 100, TID);
	expect_ev(f, 1, 1, SPAN_ENTERED, 120, 9);
	expect_ev(f, 2, 1, SPAN_EXITED, 130, 0);
	expect_ev(f, 3, 1, SPAN_CLOSED, 130, 0);
}

/* Completion inside a poll whose record never came, no poll in progress either. */
static void test_finish_closes_pending_completion(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	task_ev(f->c, AS_EV_COMPLETE, 1, 180, AS_TASK_IN_POLL);
	t = task(f, 1);
	correlator__finish(f->c, 500);
	assert_int_equal(t->closed_ns, 180);
	assert_int_equal(t->busy_ns, 10);
	/* finish is idempotent */
	correlator__finish(f->c, 600);
	assert_int_equal(f->nr_ev, 4);
}

static void test_shutdown(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	assert_int_equal(task_ev(f->c, AS_EV_SCHEDULE, 1, 150, 0), 0);
	assert_int_equal(task_ev(f->c, AS_EV_SHUTDOWN, 1, 200, 0), 0);
	t = task(f, 1);
	assert_int_equal(t->closed_ns, 0);
	assert_int_equal(t->flags, TASK_F_SPAWN_SEEN | TASK_F_SHUTDOWN);
	task_ev(f->c, AS_EV_COMPLETE, 1, 210, 0);
	assert_int_equal(t->closed_ns, 210);
	assert_int_equal(t->flags, TASK_F_SPAWN_SEEN | TASK_F_SHUTDOWN | TASK_F_COMPLETED);
	assert_int_equal(t->schedules, 1);
	task_ev(f->c, AS_EV_SCHEDULE, 1, 220, 0);
	task_ev(f->c, AS_EV_SHUTDOWN, 1, 230, 0);
	assert_int_equal(st->after_close, 2);
	assert_int_equal(t->schedules, 1);
	assert_int_equal(st->by_type[AS_EV_SHUTDOWN], 2);
	assert_int_equal(st->by_type[AS_EV_SCHEDULE], 2);
}

static void test_cancelled(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	poll(f->c, 1, 130, 140, AS_POLL_CANCELLED | AS_POLL_READY);
	t = task(f, 1);
	assert_int_equal(t->closed_ns, 140);
	assert_int_equal(t->flags, TASK_F_SPAWN_SEEN | TASK_F_CANCELLED);
	/* Harness::complete after the close (no IN_POLL here): not a duplicate */
	task_ev(f->c, AS_EV_COMPLETE, 1, 141, 0);
	assert_true(t->flags & TASK_F_COMPLETED);
	assert_int_equal(correlator__stats(f->c)->duplicates, 0);
	assert_int_equal(t->closed_ns, 140);
}

static void test_late_tasks(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	/* first seen by a wake: runnable from then */
	assert_int_equal(waker(f->c, 7, 0, AS_WAKE_BY_VAL, 500), 0);
	t = task(f, 7);
	assert_int_equal(t->flags, TASK_F_LATE);
	assert_int_equal(t->created_ns, 500);
	assert_null(t->location);
	assert_int_equal(t->kind, 0);
	poll(f->c, 7, 600, 650, 0);
	assert_int_equal(t->sched_ns, 100);

	/* first seen by its poll: created at the poll's start */
	poll(f->c, 8, 1000, 1010, 0);
	t = task(f, 8);
	assert_int_equal(t->created_ns, 1000);
	assert_int_equal(t->sched_ns, 0);
	expect_times(t, 2000, TASK_IDLE, 1000, 10, 0, 990);

	/* first seen by a self-wake inside its poll: created at the poll's start */
	waker(f->c, 9, 9, AS_WAKE_BY_REF, 1505);
	poll(f->c, 9, 1500, 1510, 0);
	t = task(f, 9);
	assert_int_equal(t->created_ns, 1500);
	assert_int_equal(t->self_wakes, 1);
	assert_int_equal(t->runnable_since_ns, 1510);

	/* first seen by a waker drop: never polled, so scheduled */
	waker(f->c, 10, 0, AS_WAKER_DROP, 1600);
	t = task(f, 10);
	assert_int_equal(t->waker_drops, 1);
	expect_times(t, 1700, TASK_SCHEDULED, 100, 0, 100, 0);

	assert_int_equal(st->late_tasks, 4);
	assert_int_equal(st->reordered, 0);
	assert_int_equal(correlator__nr_tasks(f->c), 4);
	/* first-seen order */
	assert_int_equal(correlator__task(f->c, 0)->id, 7);
	assert_int_equal(correlator__task(f->c, 3)->id, 10);
	assert_null(correlator__task(f->c, 4));

	expect_ev(f, 0, 7, SPAN_CREATED, 500, TID);
	expect_ev(f, 1, 7, SPAN_WOKEN, 500, TID);
	expect_ev(f, 4, 8, SPAN_CREATED, 1000, TID);
}

/* Another CPU's first poll overtook the spawn record. */
static void test_spawn_after_first_poll(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	poll(f->c, 5, 200, 220, 0);
	t = task(f, 5);
	assert_int_equal(t->flags, TASK_F_LATE);
	assert_int_equal(spawn(f->c, 5, 150), 0);
	assert_int_equal(t->flags, TASK_F_SPAWN_SEEN);
	assert_int_equal(t->created_ns, 150);
	assert_int_equal(t->kind, AS_TASK_ASYNC);
	assert_string_equal(t->location, "src/main.rs:10:5");
	/* its first poll was scheduled from the creation */
	assert_int_equal(t->sched_ns, 50);
	expect_times(t, 300, TASK_IDLE, 150, 20, 50, 80);
	assert_int_equal(st->duplicates, 0);
	assert_int_equal(st->reordered, 0);
	/* documented: first seen without its spawn, even if the spawn came later */
	assert_int_equal(st->late_tasks, 1);
	/* the span was created once, at first sight */
	assert_int_equal(f->nr_ev, 3);

	assert_int_equal(spawn(f->c, 5, 150), 0);
	assert_int_equal(st->duplicates, 1);

	/* a spawn stamped after the task's first record: its return came late, the earlier stamp stays */
	waker(f->c, 6, 0, AS_WAKER_CLONE, 400);
	spawn(f->c, 6, 450);
	t = task(f, 6);
	assert_int_equal(t->created_ns, 400);
	assert_int_equal(st->reordered, 1);

	/* spawned late but never polled: scheduled from the spawn */
	waker(f->c, 11, 0, AS_WAKER_CLONE, 700);
	spawn(f->c, 11, 650);
	t = task(f, 11);
	assert_int_equal(t->created_ns, 650);
	expect_times(t, 800, TASK_SCHEDULED, 150, 0, 150, 0);
}

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	spawn(f->c, 1, 100);
	spawn(f->c, 1, 100);
	task_ev(f->c, AS_EV_COMPLETE, 1, 150, AS_TASK_IN_POLL);
	task_ev(f->c, AS_EV_COMPLETE, 1, 151, AS_TASK_IN_POLL);
	poll(f->c, 1, 140, 160, 0);
	t = task(f, 1);
	assert_int_equal(t->closed_ns, 160);
	task_ev(f->c, AS_EV_COMPLETE, 1, 170, 0);
	assert_int_equal(st->duplicates, 3);
	assert_int_equal(correlator__nr_tasks(f->c), 1);
}

static void test_after_close(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;
	int n;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, AS_POLL_READY);
	n = f->nr_ev;
	poll(f->c, 1, 130, 140, 0);
	task_ev(f->c, AS_EV_SCHEDULE, 1, 150, 0);
	/* wakers outlive the task: counted, not anomalies, and no more spans */
	waker(f->c, 1, 0, AS_WAKER_DROP, 160);
	waker(f->c, 1, 0, AS_WAKE_BY_VAL, 170);
	t = task(f, 1);
	assert_int_equal(st->after_close, 2);
	assert_int_equal(t->waker_drops, 1);
	assert_int_equal(t->wakes, 1);
	assert_int_equal(t->polls, 1);
	assert_int_equal(t->closed_ns, 120);
	assert_int_equal(f->nr_ev, n);
	expect_times(t, 1000, TASK_DONE, 20, 10, 10, 0);
}

/*
 * Seen live: worker A's poll record (Pending, 110-120) is reserved after
 * worker B woke, polled and completed the task (130-140).  The late record
 * counts at its own time; it is neither lost nor an anomaly.
 */
/* A task alive before tracing started learns its future type from its completion. */
static void test_late_task_learns_type(void **state)
{
	struct fixture *f = *state;
	struct as_ev_task r = {
		.h = hdr(AS_EV_COMPLETE, sizeof(r), PID, 500), .task_id = 9, .type_idx = TYPE,
	};

	assert_int_equal(correlator__feed(f->c, &r, sizeof(r)), 0);
	assert_int_equal(task(f, 9)->type_idx, TYPE);
	assert_true(task(f, 9)->flags & TASK_F_LATE);
	assert_int_equal(task(f, 9)->closed_ns, 500);
}

/*
 * Under fat LTO no spawn hook survives: a task whose id is at or past
 * tokio's NEXT_ID at attach was spawned while traced, one below was not.
 */
static void test_spawn_inferred_from_first_id(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);

	assert_int_equal(correlator__set_first_id(f->c, PID, 100), 0);
	assert_int_equal(correlator__set_type(f->c, PID, TYPE, NULL, AS_TASK_BLOCKING), 0);
	poll(f->c, 99, 10, 20, 0);
	poll(f->c, 100, 30, 40, AS_POLL_READY);
	assert_true(task(f, 99)->flags & TASK_F_LATE);
	assert_false(task(f, 99)->flags & TASK_F_SPAWN_INFERRED);
	assert_true(task(f, 100)->flags & TASK_F_SPAWN_INFERRED);
	assert_false(task(f, 100)->flags & TASK_F_LATE);
	assert_int_equal(task(f, 100)->kind, AS_TASK_BLOCKING);
	assert_int_equal(task(f, 100)->created_ns, 30);
	assert_int_equal(st->late_tasks, 1);
	/* the name set earlier survives a kind-only update, and the reverse */
	assert_int_equal(correlator__set_type_name(f->c, PID, TYPE, "Fut"), 0);
	assert_string_equal(correlator__type_name(f->c, PID, TYPE), "Fut");
}

static void test_poll_record_overtaken(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	spawn(f->c, 1, 100);
	task_ev(f->c, AS_EV_COMPLETE, 1, 138, AS_TASK_IN_POLL);
	poll(f->c, 1, 130, 140, AS_POLL_READY);
	poll(f->c, 1, 110, 120, 0);
	/* and an overtaken poll of a task still alive */
	spawn(f->c, 2, 100);
	poll(f->c, 2, 130, 140, 0);
	poll(f->c, 2, 110, 120, 0);
	t = task(f, 1);
	assert_int_equal(t->polls, 2);
	assert_int_equal(t->busy_ns, 20);
	assert_int_equal(t->first_poll_ns, 110);
	assert_int_equal(t->closed_ns, 140);
	t = task(f, 2);
	assert_int_equal(t->polls, 2);
	assert_int_equal(t->busy_ns, 20);
	assert_int_equal(t->last_poll_end_ns, 140);
	/* stamped late: its end passes the next poll's start; busy stops there */
	spawn(f->c, 3, 100);
	poll(f->c, 3, 130, 140, AS_POLL_READY);
	poll(f->c, 3, 110, 135, 0);
	t = task(f, 3);
	assert_int_equal(t->polls, 2);
	assert_int_equal(t->busy_ns, 30);
	assert_int_equal(t->closed_ns, 140);
	assert_int_equal(st->reordered, 3);
	assert_int_equal(st->after_close, 0);
}

/* Clones and drops of a task's own waker inside its poll come in the poll's record. */
static void test_waker_ops_in_poll_record(void **state)
{
	struct fixture *f = *state;
	struct as_ev_poll r = {
		.h = hdr(AS_EV_POLL, sizeof(r), PID, 120),
		.task_id = 1, .start_ns = 110, .type_idx = TYPE, .waker_clones = 2, .waker_drops = 1,
	};
	struct as_poll_frame running = {
		.task_id = 1, .type_idx = TYPE, .start_ns = 150, .waker_clones = 4, .waker_drops = 3,
	};
	const struct as_task *t;

	spawn(f->c, 1, 100);
	waker(f->c, 1, 0, AS_WAKER_CLONE, 105);
	assert_int_equal(correlator__feed(f->c, &r, sizeof(r)), 0);
	t = task(f, 1);
	assert_int_equal(t->polls, 1);
	assert_int_equal(t->waker_clones, 3);
	assert_int_equal(t->waker_drops, 1);
	assert_int_equal(t->wakes, 0);
	/* the poll still running at the end brings its own so far */
	assert_int_equal(correlator__poll_in_progress(f->c, PID, TID, &running), 0);
	assert_int_equal(t->waker_clones, 7);
	assert_int_equal(t->waker_drops, 4);
	/* a READY poll closes the task; its drops still count */
	r.h.ts_ns = 220;
	r.start_ns = 210;
	r.flags = AS_POLL_READY;
	r.waker_clones = 0;
	r.waker_drops = 5;
	assert_int_equal(correlator__feed(f->c, &r, sizeof(r)), 0);
	assert_int_equal(t->waker_drops, 9);
	assert_int_equal(t->closed_ns, 220);
	assert_int_equal(correlator__stats(f->c)->reordered, 0);
}

static void test_out_of_order(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	const struct as_task *t;

	/* a poll starting before the previous one ended: clamped to its end */
	spawn(f->c, 1, 50);
	poll(f->c, 1, 100, 200, 0);
	poll(f->c, 1, 150, 250, 0);
	t = task(f, 1);
	assert_int_equal(st->reordered, 1);
	assert_int_equal(t->busy_ns, 150);
	assert_int_equal(t->last_poll_start_ns, 200);
	/* ... and one that ends before the previous end: zero length */
	poll(f->c, 1, 210, 240, 0);
	assert_int_equal(st->reordered, 2);
	assert_int_equal(t->busy_ns, 150);
	assert_int_equal(t->polls, 3);

	/* a wake older than the last poll: counted, no effect on scheduling */
	wake(f->c, 1, 120);
	assert_int_equal(st->reordered, 3);
	assert_int_equal(t->wakes, 1);
	assert_int_equal(t->runnable_since_ns, 0);

	/* a close before the creation */
	spawn(f->c, 2, 500);
	task_ev(f->c, AS_EV_COMPLETE, 2, 400, 0);
	t = task(f, 2);
	assert_int_equal(st->reordered, 4);
	assert_int_equal(t->closed_ns, 500);
	expect_times(t, 1000, TASK_DONE, 0, 0, 0, 0);

	/* a poll before the spawn */
	spawn(f->c, 3, 500);
	poll(f->c, 3, 450, 480, 0);
	t = task(f, 3);
	assert_int_equal(st->reordered, 5);
	assert_int_equal(t->busy_ns, 0);
	assert_int_equal(t->sched_ns, 0);
	assert_int_equal(t->first_poll_ns, 500);

	/* a wake before the spawn: counted, made runnable from the creation */
	spawn(f->c, 4, 500);
	poll(f->c, 4, 510, 520, 0);
	poll(f->c, 4, 530, 540, 0);
	t = task(f, 4);
	wake(f->c, 4, 490);
	assert_int_equal(st->reordered, 7);

	/* now before the creation: no negative durations */
	expect_times(task(f, 1), 10, TASK_IDLE, 0, 150, 50, 0);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	const struct correlator_stats *st = correlator__stats(f->c);
	struct as_ev_poll p = {
		.h = hdr(AS_EV_POLL, sizeof(p), PID, 200), .task_id = 1, .start_ns = 100,
	};
	struct as_ev_spawn s = spawn_rec(PID, 2, 100, "a.rs");
	struct as_ev_waker w = {
		.h = hdr(AS_EV_WAKER, sizeof(w), PID, 100), .task_id = 1, .op = 9,
	};
	unsigned char big[sizeof(p) + 16];
	struct as_ev_poll q;

	assert_int_equal(correlator__feed(f->c, NULL, 0), -EINVAL);
	assert_int_equal(correlator__feed(f->c, &p, 0), -EINVAL);
	assert_int_equal(correlator__feed(f->c, &p, sizeof(p.h) - 1), -EINVAL);
	/* size given disagrees with hdr.size */
	assert_int_equal(correlator__feed(f->c, &p, sizeof(p) - 8), -EINVAL);
	/* shorter than its type's struct, consistently */
	q = p;
	q.h.size = sizeof(q.h) + 8;
	assert_int_equal(correlator__feed(f->c, &q, q.h.size), -EINVAL);
	/* unknown types */
	q = p;
	q.h.type = 0;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	q.h.type = AS_EV__MAX;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	q.h.type = 0xffff;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	/* end before start, zero start, zero time, zero task id */
	q = p;
	q.start_ns = 300;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	q.start_ns = 0;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	q = p;
	q.h.ts_ns = 0;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	q = p;
	q.task_id = 0;
	assert_int_equal(correlator__feed(f->c, &q, sizeof(q)), -EINVAL);
	/* huge file_len */
	s.file_len = AS_LOC_FILE_MAX + 1;
	assert_int_equal(correlator__feed(f->c, &s, sizeof(s)), -EINVAL);
	s.file_len = 0xffffffffu;
	assert_int_equal(correlator__feed(f->c, &s, sizeof(s)), -EINVAL);
	/* unknown waker op */
	assert_int_equal(correlator__feed(f->c, &w, sizeof(w)), -EINVAL);

	assert_int_equal(st->malformed, 15);
	assert_int_equal(st->records, 15);
	assert_int_equal(correlator__nr_tasks(f->c), 0);
	assert_int_equal(f->nr_ev, 0);
	assert_int_equal(correlator__max_ts(f->c), 0);

	/* a longer record (a newer ABI) is read up to what this one knows, unaligned */
	memset(big, 0xee, sizeof(big));
	q = p;
	q.h.size = sizeof(q) + 15;
	memcpy(big + 1, &q, sizeof(q));
	assert_int_equal(correlator__feed(f->c, big + 1, sizeof(q) + 15), 0);
	assert_int_equal(correlator__nr_tasks(f->c), 1);
	assert_int_equal(task(f, 1)->busy_ns, 100);
	assert_int_equal(st->malformed, 15);
	assert_int_equal(st->records, 16);
}

static void test_location(void **state)
{
	struct fixture *f = *state;
	struct as_ev_spawn s;
	const struct as_task *a, *b;
	char full[AS_LOC_FILE_MAX + 1];

	s = spawn_rec(PID, 1, 100, "src/a\n\xff.rs");
	correlator__feed(f->c, &s, sizeof(s));
	s = spawn_rec(PID, 2, 100, "src/a\n\xff.rs");
	correlator__feed(f->c, &s, sizeof(s));
	a = task(f, 1);
	b = task(f, 2);
	assert_string_equal(a->location, "src/a??.rs:10:5");
	/* interned: one copy per distinct location */
	assert_ptr_equal(a->location, b->location);

	/* bytes past file_len are not part of it, NULs inside are replaced */
	s = spawn_rec(PID, 3, 100, "lib.rsXXX");
	s.file_len = 6;
	s.file[2] = '\0';
	s.line = 4294967295u;
	s.col = 0;
	correlator__feed(f->c, &s, sizeof(s));
	assert_string_equal(task(f, 3)->location, "li?.rs:4294967295:0");

	/* unknown location */
	s = spawn_rec(PID, 4, 100, NULL);
	correlator__feed(f->c, &s, sizeof(s));
	assert_null(task(f, 4)->location);

	/* exactly AS_LOC_FILE_MAX bytes */
	memset(full, 'x', AS_LOC_FILE_MAX);
	full[AS_LOC_FILE_MAX] = '\0';
	s = spawn_rec(PID, 5, 100, full);
	assert_int_equal(correlator__feed(f->c, &s, sizeof(s)), 0);
	assert_int_equal(strlen(task(f, 5)->location), AS_LOC_FILE_MAX + strlen(":10:5"));
	assert_int_equal(correlator__stats(f->c)->malformed, 0);
}

static void test_two_pids(void **state)
{
	struct fixture *f = *state;
	const struct as_task *a, *b;

	spawn_pid(f->c, 1, 1, 100);
	spawn_pid(f->c, 2, 1, 200);
	poll_pid(f->c, 2, 1, 210, 230, 0);
	poll_pid(f->c, 1, 1, 300, 310, AS_POLL_READY);
	a = correlator__find(f->c, 1, 1);
	b = correlator__find(f->c, 2, 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a->created_ns, 100);
	assert_int_equal(a->closed_ns, 310);
	assert_int_equal(a->busy_ns, 10);
	assert_int_equal(b->created_ns, 200);
	assert_int_equal(b->closed_ns, 0);
	assert_int_equal(b->busy_ns, 20);
	assert_null(correlator__find(f->c, 3, 1));
	assert_int_equal(correlator__nr_tasks(f->c), 2);
	assert_int_equal(correlator__stats(f->c)->duplicates, 0);
}

static void test_max_tasks(void **state)
{
	struct fixture *f = fixture_new(2);
	const struct correlator_stats *st = correlator__stats(f->c);

	*state = f;
	spawn(f->c, 1, 100);
	spawn(f->c, 2, 100);
	assert_int_equal(spawn(f->c, 3, 100), 0);
	assert_int_equal(poll(f->c, 3, 110, 120, 0), 0);
	assert_int_equal(wake(f->c, 4, 130), 0);
	assert_int_equal(poll(f->c, 1, 110, 120, 0), 0);
	assert_int_equal(correlator__nr_tasks(f->c), 2);
	assert_null(correlator__find(f->c, PID, 3));
	assert_int_equal(st->over_limit_tasks, 1);
	assert_int_equal(st->over_limit_records, 3);
	assert_int_equal(st->late_tasks, 0);
	assert_int_equal(task(f, 1)->polls, 1);
	assert_int_equal(f->nr_ev, 4);
}

static void test_many_tasks(void **state)
{
	struct fixture *f = *state;
	uint64_t id;

	for (id = 1; id <= 5000; id++)
		assert_int_equal(spawn(f->c, id * 7919, id), 0);
	for (id = 1; id <= 5000; id++) {
		assert_int_equal(task(f, id * 7919)->created_ns, id);
		assert_int_equal(correlator__task(f->c, id - 1)->id, id * 7919);
	}
	assert_null(correlator__find(f->c, PID, 5));
	assert_int_equal(f->nr_ev, 5000);
}

static void test_poll_in_progress_then_record(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	assert_int_equal(in_progress(f->c, PID, TID, 1, TYPE, 110), 0);
	t = task(f, 1);
	assert_int_equal(t->flags & TASK_F_IN_POLL, TASK_F_IN_POLL);
	assert_int_equal(t->poll_in_progress_ns, 110);
	expect_times(t, 125, TASK_RUNNING, 25, 15, 10, 0);
	/* tracing goes on after all: its wake and its record arrive */
	waker(f->c, 1, 1, AS_WAKE_BY_REF, 115);
	poll(f->c, 1, 110, 130, 0);
	assert_int_equal(t->flags & TASK_F_IN_POLL, 0);
	assert_int_equal(t->polls, 1);
	assert_int_equal(t->sched_ns, 10);
	assert_int_equal(t->busy_ns, 20);
	assert_int_equal(t->runnable_since_ns, 130);
	assert_int_equal(in_progress(f->c, PID, TID, 0, TYPE, 110), -EINVAL);
}

/* A running task that was woken since its previous poll. */
static void test_running_times(void **state)
{
	struct fixture *f = *state;
	const struct as_task *t;

	spawn(f->c, 1, 100);
	poll(f->c, 1, 110, 120, 0);
	wake(f->c, 1, 150);
	in_progress(f->c, PID, TID, 1, TYPE, 170);
	t = task(f, 1);
	expect_times(t, 200, TASK_RUNNING, 100, 40, 30, 30);
	/* late task first seen running */
	in_progress(f->c, PID, TID, 2, TYPE, 180);
	t = task(f, 2);
	assert_int_equal(t->flags, TASK_F_LATE | TASK_F_IN_POLL);
	assert_int_equal(t->type_idx, TYPE);
	expect_times(t, 200, TASK_RUNNING, 20, 20, 0, 0);
	correlator__finish(f->c, 200);
	assert_int_equal(t->closed_ns, 0);
}

static void test_names(void **state)
{
	struct fixture *f = *state;
	uint32_t i;
	char buf[32];

	assert_null(correlator__process_name(f->c, 1));
	assert_int_equal(correlator__set_process(f->c, 1, "app"), 0);
	assert_int_equal(correlator__set_process(f->c, 2, "other"), 0);
	assert_int_equal(correlator__set_process(f->c, 1, "app2"), 0);
	assert_string_equal(correlator__process_name(f->c, 1), "app2");
	assert_string_equal(correlator__process_name(f->c, 2), "other");
	assert_int_equal(correlator__set_process(f->c, 3, NULL), -EINVAL);

	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "Fut%u", i);
		assert_int_equal(correlator__set_type_name(f->c, 1, i, buf), 0);
	}
	assert_int_equal(correlator__set_type_name(f->c, 2, 5, "Other"), 0);
	assert_int_equal(correlator__set_type_name(f->c, 1, 5, "Five"), 0);
	assert_string_equal(correlator__type_name(f->c, 1, 5), "Five");
	assert_string_equal(correlator__type_name(f->c, 1, 99), "Fut99");
	assert_string_equal(correlator__type_name(f->c, 2, 5), "Other");
	assert_null(correlator__type_name(f->c, 2, 6));
	assert_null(correlator__type_name(f->c, 1, AS_TYPE_UNKNOWN));
	assert_int_equal(correlator__set_type_name(f->c, 1, AS_TYPE_UNKNOWN, "x"), -EINVAL);
}

static void count_span(void *ctx, const struct as_task *t, enum span_event ev, uint64_t ts,
		       uint32_t tid)
{
	(void)t;
	(void)ev;
	(void)ts;
	(void)tid;
	(*(int *)ctx)++;
}

static void test_sinks(void **state)
{
	struct fixture *f = *state;
	int n = 0, i;
	struct correlator_sink s = { .on_span = count_span, .ctx = &n };

	for (i = 1; i < 8; i++)
		assert_int_equal(correlator__add_sink(f->c, &s), 0);
	assert_int_equal(correlator__add_sink(f->c, &s), -E2BIG);
	s.on_span = NULL;
	assert_int_equal(correlator__add_sink(f->c, &s), -EINVAL);
	spawn(f->c, 1, 100);
	assert_int_equal(n, 7);
	assert_int_equal(f->nr_ev, 1);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(task_state_name(TASK_IDLE), "idle");
	assert_string_equal(task_state_name(TASK_SCHEDULED), "scheduled");
	assert_string_equal(task_state_name(TASK_RUNNING), "running");
	assert_string_equal(task_state_name(TASK_DONE), "done");
	assert_string_equal(task_state_name((enum task_state)42), "?");
	correlator__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_before_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_before_and_during_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_after_poll_overtakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_during_poll_delivered_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_poll_from_creation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_outside_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_in_running_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_closes_pending_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_record_overtaken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_inferred_from_first_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_task_learns_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_after_first_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waker_ops_in_poll_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_pids, setup, teardown),
		cmocka_unit_test_teardown(test_max_tasks, teardown),
		cmocka_unit_test_setup_teardown(test_many_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_in_progress_then_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_running_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sinks, setup, teardown),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
