/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hand-made records for the timeline and exporter tests, and the scenario
 * both use, with exact times (ns):
 *
 *   tid 10  |A#1 150-200 [B#1 170-180 nested]|  B#2 390-420   C#1 600-650
 *   tid 11                 A#2 300-350   A#3 500-550 Ready        C#2 900- (running)
 *   tid 12  (no polls: wakes B at 250, spawns D at 700)
 *
 *   A (id 1, app::alpha)  spawned at 100 on tid 10; self-wake at 190 (in A#1);
 *                         woken by B at 400 (in B#2); completes in A#3 (540);
 *                         a stray poll record at 560-570 comes after its close
 *   B (id 2, app::beta)   spawned by A at 160 on tid 10; woken at 250 from tid 12
 *   C (id 3, no type)     alive before tracing (late); polled at 600 and at 900
 *                         (still running at the end, 1000)
 *   D (id 4, app::beta)   spawned at 700 on tid 12, never polled
 *
 * tr_scenario() lists the records out of order, as they arrive from several
 * CPUs (A#3 and its completion overtake A#2).
 */
#ifndef TESTS_TIMELINE_RECORDS_H
#define TESTS_TIMELINE_RECORDS_H

#include <string.h>
#include "timeline.h"

#define TR_PID		4242
#define TR_END		1000
#define TR_TYPE_A	1
#define TR_TYPE_B	2
#define TR_MAX		32

union tr_rec {
	struct as_event_hdr h;
	struct as_ev_poll poll;
	struct as_ev_waker waker;
	struct as_ev_spawn spawn;
	struct as_ev_task task;
};

struct tr_list {
	union tr_rec rec[TR_MAX];
	int n;
};

static inline union tr_rec *tr_new(struct tr_list *l, unsigned int type, size_t size,
				   uint32_t tid, uint64_t ts)
{
	union tr_rec *r = &l->rec[l->n++];

	memset(r, 0, sizeof(*r));
	r->h = (struct as_event_hdr){
		.type = type, .size = size, .pid = TR_PID, .tid = tid, .cpu = 0, .ts_ns = ts,
	};
	return r;
}

static inline void tr_poll(struct tr_list *l, uint32_t tid, uint64_t id, uint32_t type,
			   uint64_t s, uint64_t e, uint32_t flags)
{
	union tr_rec *r = tr_new(l, AS_EV_POLL, sizeof(struct as_ev_poll), tid, e);

	r->poll.task_id = id;
	r->poll.start_ns = s;
	r->poll.type_idx = type;
	r->poll.flags = flags;
}

static inline void tr_waker(struct tr_list *l, uint32_t tid, uint64_t id, uint64_t cur,
			    uint32_t op, uint64_t ts)
{
	union tr_rec *r = tr_new(l, AS_EV_WAKER, sizeof(struct as_ev_waker), tid, ts);

	r->waker.task_id = id;
	r->waker.cur_task_id = cur;
	r->waker.op = op;
	r->waker.type_idx = AS_TYPE_UNKNOWN;
}

static inline void tr_spawn(struct tr_list *l, uint32_t tid, uint64_t id, uint64_t parent,
			    uint32_t type, uint64_t ts)
{
	static const char file[] = "src/main.rs";
	union tr_rec *r = tr_new(l, AS_EV_SPAWN, sizeof(struct as_ev_spawn), tid, ts);

	r->spawn.task_id = id;
	r->spawn.parent_task_id = parent;
	r->spawn.kind = AS_TASK_ASYNC;
	r->spawn.type_idx = type;
	r->spawn.line = 10;
	r->spawn.col = 5;
	r->spawn.file_len = sizeof(file) - 1;
	memcpy(r->spawn.file, file, sizeof(file) - 1);
}

static inline void tr_task_ev(struct tr_list *l, unsigned int type, uint32_t tid, uint64_t id,
			      uint64_t ts, uint32_t flags)
{
	union tr_rec *r = tr_new(l, type, sizeof(struct as_ev_task), tid, ts);

	r->task.task_id = id;
	r->task.flags = flags;
	r->task.type_idx = AS_TYPE_UNKNOWN;
}

/* The scenario's well-formed records, in arrival order. */
static inline void tr_scenario(struct tr_list *l)
{
	l->n = 0;
	tr_spawn(l, 10, 1, 0, TR_TYPE_A, 100);
	/* inside A#1: the spawn of B, B's nested poll, A's self-wake */
	tr_spawn(l, 10, 2, 1, TR_TYPE_B, 160);
	tr_waker(l, 10, 2, 1, AS_WAKER_CLONE, 165);
	tr_poll(l, 10, 2, TR_TYPE_B, 170, 180, AS_POLL_NESTED);
	tr_waker(l, 10, 1, 1, AS_WAKE_BY_REF, 190);
	/* B woken from a thread that polls nothing, before A#1's record lands */
	tr_waker(l, 12, 2, 0, AS_WAKE_BY_VAL, 250);
	tr_poll(l, 10, 1, TR_TYPE_A, 150, 200, 0);
	/* A#3 and its completion overtake A#2, B#2 and the wake that caused A#3 */
	tr_task_ev(l, AS_EV_COMPLETE, 11, 1, 540, AS_TASK_IN_POLL);
	tr_poll(l, 11, 1, TR_TYPE_A, 500, 550, AS_POLL_READY);
	tr_poll(l, 11, 1, TR_TYPE_A, 300, 350, 0);
	tr_waker(l, 10, 1, 2, AS_WAKE_BY_VAL, 400);
	tr_poll(l, 10, 2, TR_TYPE_B, 390, 420, 0);
	tr_waker(l, 11, 1, 0, AS_WAKER_DROP, 555);
	/* a poll of A after its close: dropped */
	tr_poll(l, 10, 1, TR_TYPE_A, 560, 570, 0);
	/* C: alive before tracing, no type */
	tr_poll(l, 10, 3, AS_TYPE_UNKNOWN, 600, 650, 0);
	tr_spawn(l, 12, 4, 0, TR_TYPE_B, 700);
	/* a second spawn record of A: counted, ignored */
	tr_spawn(l, 10, 1, 0, TR_TYPE_A, 100);
}

/* 0 when timeline__feed() refuses the record with -EINVAL. */
static inline int tr_refused(struct timeline *tl, const void *rec, size_t size, int *n)
{
	(*n)++;
	return timeline__feed(tl, rec, size) == -EINVAL ? 0 : 1;
}

/* Feeds malformed records; returns how many, or -1 if one was accepted. */
static inline int tr_feed_malformed(struct timeline *tl)
{
	struct as_ev_poll p = {
		.h = { .type = AS_EV_POLL, .size = sizeof(p), .pid = TR_PID, .tid = 10, .ts_ns = 200 },
		.task_id = 1, .start_ns = 150, .type_idx = TR_TYPE_A,
	};
	struct as_ev_poll bad;
	int n = 0, accepted = 0;

	/* short: not even a header */
	accepted |= tr_refused(tl, &p, 8, &n);
	/* h.size disagrees with the record's size */
	accepted |= tr_refused(tl, &p, sizeof(p) - 8, &n);
	/* unknown type */
	bad = p;
	bad.h.type = 99;
	accepted |= tr_refused(tl, &bad, sizeof(bad), &n);
	/* task id 0 */
	bad = p;
	bad.task_id = 0;
	accepted |= tr_refused(tl, &bad, sizeof(bad), &n);
	/* ends before it starts */
	bad = p;
	bad.start_ns = 300;
	accepted |= tr_refused(tl, &bad, sizeof(bad), &n);
	/* no record at all */
	accepted |= tr_refused(tl, NULL, sizeof(bad), &n);
	return accepted ? -1 : n;
}

/*
 * The whole scenario into tl, malformed records in the middle, then
 * finish at TR_END.  0 if every call returned what it should.
 */
static inline int tr_timeline(struct timeline *tl)
{
	struct tr_list l;
	int i, err = 0;

	err |= timeline__set_process(tl, TR_PID, "server");
	err |= timeline__set_thread(tl, TR_PID, 10, "worker-0");
	err |= timeline__set_thread(tl, TR_PID, 11, "worker-1");
	err |= timeline__set_type(tl, TR_PID, TR_TYPE_A, "app::alpha", AS_TASK_ASYNC);
	err |= timeline__set_type(tl, TR_PID, TR_TYPE_B, "app::beta", AS_TASK_ASYNC);
	tr_scenario(&l);
	for (i = 0; i < l.n; i++) {
		err |= timeline__feed(tl, &l.rec[i], l.rec[i].h.size);
		if (i == 6 && tr_feed_malformed(tl) != 6)
			err |= 1;
	}
	err |= timeline__poll_in_progress(tl, TR_PID, 11, 3, AS_TYPE_UNKNOWN, 900);
	err |= timeline__finish(tl, TR_END);
	return err;
}

#endif
