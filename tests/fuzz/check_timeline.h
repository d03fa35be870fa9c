/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The promises timeline.h makes about a finished timeline, checked on
 * whatever the fuzzers fed it: the exporters draw from these views and
 * trust them (a Perfetto track whose slices do not nest is drawn wrong).
 *
 *  - a task's polls are [first_poll, + nr_polls), its own, numbered 1, 2, ...
 *    in start order; each ends no earlier than it starts;
 *  - a task's wakes are [first_wake, + nr_wakes), its own, in time order;
 *  - the thread order is a permutation of the polls, grouped by thread, by
 *    start within a thread, each poll inside the one it started in;
 *  - a task's life segments are never empty and follow one another.
 */
#ifndef ASYNCSCOPE_FUZZ_CHECK_TIMELINE_H
#define ASYNCSCOPE_FUZZ_CHECK_TIMELINE_H

#include <stdlib.h>
#include "fuzz.h"
#include "timeline.h"

struct seg_check {
	const struct timeline *tl;
	uint64_t last_end;
	size_t n;
};

static int check_seg(void *ctx, const struct tl_seg *s)
{
	struct seg_check *sc = ctx;

	FUZZ_CHECK(s->start_ns < s->end_ns);
	FUZZ_CHECK(!sc->n || s->start_ns == sc->last_end);
	FUZZ_CHECK(s->state <= TL_SEG_IDLE);
	FUZZ_CHECK(s->state != TL_SEG_RUNNING || s->poll < timeline__nr_polls(sc->tl));
	sc->last_end = s->end_ns;
	sc->n++;
	return 0;
}

static void check_timeline(const struct timeline *tl)
{
	size_t nt = timeline__nr_tasks(tl), np = timeline__nr_polls(tl);
	size_t nw = timeline__nr_wakes(tl), nth = timeline__nr_threads(tl);
	uint64_t *stack = malloc((np + 1) * sizeof(*stack));
	uint8_t *seen = calloc(np + 1, 1), *thread_done = calloc(nth + 1, 1);
	size_t depth = 0;
	uint32_t thread = TL_NONE;
	uint64_t last_start = 0;

	FUZZ_CHECK(stack && seen && thread_done);
	for (size_t i = 0; i < nt; i++) {
		const struct tl_task *t = timeline__task(tl, i);
		struct seg_check sc = { .tl = tl };

		FUZZ_CHECK(t->first_poll <= np && t->nr_polls <= np - t->first_poll);
		for (uint32_t k = 0; k < t->nr_polls; k++) {
			const struct tl_poll *p = timeline__poll(tl, t->first_poll + k);

			FUZZ_CHECK(p->task == i && p->poll_no == k + 1);
			FUZZ_CHECK(p->thread < nth);
			FUZZ_CHECK(p->start_ns <= p->end_ns);
			FUZZ_CHECK(!k || timeline__poll(tl, t->first_poll + k - 1)->start_ns <= p->start_ns);
			FUZZ_CHECK(!p->wake || p->wake <= nw);
		}
		FUZZ_CHECK(t->first_wake <= nw && t->nr_wakes <= nw - t->first_wake);
		for (uint32_t k = 0; k < t->nr_wakes; k++) {
			const struct tl_wake *w = timeline__wake(tl, t->first_wake + k);

			FUZZ_CHECK(w->task == i && w->thread < nth);
			FUZZ_CHECK(!k || timeline__wake(tl, t->first_wake + k - 1)->ts_ns <= w->ts_ns);
		}
		FUZZ_CHECK(!timeline__task_segments(tl, i, check_seg, &sc));
	}
	for (size_t k = 0; k < np; k++) {
		size_t idx = timeline__poll_by_thread(tl, k);
		const struct tl_poll *p;

		FUZZ_CHECK(idx < np && !seen[idx]);
		seen[idx] = 1;
		p = timeline__poll(tl, idx);
		if (p->thread != thread) {
			/* a thread's polls come together: none after its group */
			FUZZ_CHECK(!thread_done[p->thread]);
			if (thread != TL_NONE)
				thread_done[thread] = 1;
			thread = p->thread;
			depth = 0;
		} else {
			FUZZ_CHECK(p->start_ns >= last_start);
		}
		last_start = p->start_ns;
		/* the polls that ended before this one started are done with */
		while (depth && stack[depth - 1] <= p->start_ns)
			depth--;
		FUZZ_CHECK(!depth || p->end_ns <= stack[depth - 1]);
		stack[depth++] = p->end_ns;
	}
	free(stack);
	free(seen);
	free(thread_done);
}

#endif
