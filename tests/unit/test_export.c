// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exporters, on the timeline of timeline_records.h: the Perfetto trace
 * is decoded back with protobuf-c (our schema, Perfetto's field numbers)
 * and checked track by track; the Chrome JSON is checked for syntax and
 * counted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "out_chrome.h"
#include "out_perfetto.h"
#include "perfetto_trace.pb-c.h"
#include "timeline.h"
#include "timeline_records.h"

#define MAX_IIDS	64
#define MAX_TRACKS	16
#define MAX_EVS		256
#define MAX_ANNS	8

typedef Perfetto__Protos__TracePacket Packet;
typedef Perfetto__Protos__TrackEvent TrackEvent;

enum track_kind { TRACK_NONE = 0, TRACK_PROCESS, TRACK_THREAD, TRACK_TASK };

struct track {
	uint64_t uuid;
	enum track_kind kind;
	const Perfetto__Protos__TrackDescriptor *td;
};

/* One decoded track event, its names resolved. */
struct ev {
	size_t pkt;		/* position in the file */
	uint64_t ts;
	int type;
	uint64_t track;
	const char *name;
	const char *cat;
	const TrackEvent *te;
};

/* Interning state of the sequence, rebuilt the way a reader does: in file order. */
struct decoded {
	Perfetto__Protos__Trace *trace;
	const char *names[MAX_IIDS], *cats[MAX_IIDS], *anns[MAX_IIDS];
	int defs_names, defs_cats, defs_anns;
	struct track tracks[MAX_TRACKS];
	int nr_tracks;
	struct ev evs[MAX_EVS];
	int nr_evs;
	size_t last_descriptor, first_event;
};

static struct timeline *scenario(int64_t *rt_offset)
{
	struct timeline *tl = timeline__new();

	assert_non_null(tl);
	if (rt_offset)
		timeline__set_realtime_offset(tl, *rt_offset);
	assert_int_equal(tr_timeline(tl), 0);
	return tl;
}

/* The output of write() into a malloc'ed buffer. */
static char *capture(int (*write)(FILE *, const struct timeline *), const struct timeline *tl,
		     size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(write(f, tl), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void define(const char **table, int *defs, uint64_t iid, const char *name)
{
	assert_true(iid > 0 && iid < MAX_IIDS);
	assert_null(table[iid]);	/* an iid is defined once */
	table[iid] = name;
	(*defs)++;
}

static void learn_interned(struct decoded *d, const Perfetto__Protos__InternedData *in)
{
	size_t i;

	if (!in)
		return;
	for (i = 0; i < in->n_event_names; i++)
		define(d->names, &d->defs_names, in->event_names[i]->iid, in->event_names[i]->name);
	for (i = 0; i < in->n_event_categories; i++)
		define(d->cats, &d->defs_cats, in->event_categories[i]->iid,
		       in->event_categories[i]->name);
	for (i = 0; i < in->n_debug_annotation_names; i++)
		define(d->anns, &d->defs_anns, in->debug_annotation_names[i]->iid,
		       in->debug_annotation_names[i]->name);
}

static const char *resolve(const char **table, uint64_t iid)
{
	assert_true(iid > 0 && iid < MAX_IIDS);
	assert_non_null(table[iid]);	/* defined before (or in) the packet that uses it */
	return table[iid];
}

static void add_track(struct decoded *d, const Perfetto__Protos__TrackDescriptor *td)
{
	struct track *t = &d->tracks[d->nr_tracks++];
	int i;

	assert_true(d->nr_tracks <= MAX_TRACKS);
	assert_true(td->has_uuid && td->uuid);
	for (i = 0; i < d->nr_tracks - 1; i++)
		assert_int_not_equal(d->tracks[i].uuid, td->uuid);
	t->uuid = td->uuid;
	t->td = td;
	t->kind = td->process ? TRACK_PROCESS : td->thread ? TRACK_THREAD : TRACK_TASK;
}

static void add_event(struct decoded *d, size_t idx, const Packet *p)
{
	const TrackEvent *te = p->track_event;
	struct ev *e = &d->evs[d->nr_evs++];
	size_t i;

	assert_true(d->nr_evs <= MAX_EVS);
	assert_true(p->has_timestamp);
	assert_true(p->has_timestamp_clock_id);
	assert_int_equal(p->timestamp_clock_id, PERFETTO__PROTOS__BUILTIN_CLOCK__BUILTIN_CLOCK_MONOTONIC);
	assert_int_equal(p->sequence_flags,
			 PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE);
	assert_true(te->has_type && te->has_track_uuid);
	*e = (struct ev){ .pkt = idx, .ts = p->timestamp, .type = te->type,
			  .track = te->track_uuid, .te = te };
	if (te->name_field_case == PERFETTO__PROTOS__TRACK_EVENT__NAME_FIELD_NAME_IID)
		e->name = resolve(d->names, te->name_iid);
	else if (te->name_field_case == PERFETTO__PROTOS__TRACK_EVENT__NAME_FIELD_NAME)
		e->name = te->name;
	if (te->n_category_iids) {
		assert_int_equal(te->n_category_iids, 1);
		e->cat = resolve(d->cats, te->category_iids[0]);
	}
	for (i = 0; i < te->n_debug_annotations; i++)
		resolve(d->anns, te->debug_annotations[i]->name_iid);
	if (!d->first_event)
		d->first_event = idx;
}

static void decode(struct decoded *d, const char *buf, size_t len)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	d->trace = perfetto__protos__trace__unpack(NULL, len, (const uint8_t *)buf);
	assert_non_null(d->trace);
	for (i = 0; i < d->trace->n_packet; i++) {
		const Packet *p = d->trace->packet[i];

		assert_int_equal(p->optional_trusted_packet_sequence_id_case,
				 PERFETTO__PROTOS__TRACE_PACKET__OPTIONAL_TRUSTED_PACKET_SEQUENCE_ID_TRUSTED_PACKET_SEQUENCE_ID);
		assert_int_equal(p->trusted_packet_sequence_id, OUT_PERFETTO_SEQ_ID);
		learn_interned(d, p->interned_data);
		switch (p->data_case) {
		case PERFETTO__PROTOS__TRACE_PACKET__DATA_TRACK_DESCRIPTOR:
			add_track(d, p->track_descriptor);
			d->last_descriptor = i;
			break;
		case PERFETTO__PROTOS__TRACE_PACKET__DATA_TRACK_EVENT:
			add_event(d, i, p);
			break;
		case PERFETTO__PROTOS__TRACE_PACKET__DATA_CLOCK_SNAPSHOT:
			assert_int_equal(i, 0);
			break;
		default:
			fail_msg("packet %zu: unexpected data case %d", i, p->data_case);
		}
	}
}

static void release(struct decoded *d)
{
	perfetto__protos__trace__free_unpacked(d->trace, NULL);
}

static const struct track *track_of(const struct decoded *d, uint64_t uuid)
{
	for (int i = 0; i < d->nr_tracks; i++)
		if (d->tracks[i].uuid == uuid)
			return &d->tracks[i];
	fail_msg("no track %" PRIu64, uuid);
	return NULL;
}

static const struct track *thread_track(const struct decoded *d, int32_t tid)
{
	for (int i = 0; i < d->nr_tracks; i++)
		if (d->tracks[i].kind == TRACK_THREAD && d->tracks[i].td->thread->tid == tid)
			return &d->tracks[i];
	fail_msg("no thread track for tid %d", tid);
	return NULL;
}

static const struct track *task_track(const struct decoded *d, const char *name)
{
	for (int i = 0; i < d->nr_tracks; i++)
		if (d->tracks[i].kind == TRACK_TASK && !strcmp(d->tracks[i].td->name, name))
			return &d->tracks[i];
	fail_msg("no task track '%s'", name);
	return NULL;
}

/* The annotation named key of an event, NULL if it has none. */
static const Perfetto__Protos__DebugAnnotation *ann(const struct decoded *d, const struct ev *e,
						     const char *key)
{
	for (size_t i = 0; i < e->te->n_debug_annotations; i++) {
		const Perfetto__Protos__DebugAnnotation *a = e->te->debug_annotations[i];

		if (!strcmp(d->anns[a->name_iid], key))
			return a;
	}
	return NULL;
}

static uint64_t ann_u64(const struct decoded *d, const struct ev *e, const char *key)
{
	const Perfetto__Protos__DebugAnnotation *a = ann(d, e, key);

	assert_non_null(a);
	assert_int_equal(a->value_case, PERFETTO__PROTOS__DEBUG_ANNOTATION__VALUE_UINT_VALUE);
	return a->uint_value;
}

static const char *ann_str(const struct decoded *d, const struct ev *e, const char *key)
{
	const Perfetto__Protos__DebugAnnotation *a = ann(d, e, key);

	assert_non_null(a);
	assert_int_equal(a->value_case, PERFETTO__PROTOS__DEBUG_ANNOTATION__VALUE_STRING_VALUE);
	return a->string_value;
}

/* A track's events as a reader sees them: by time, ties in file order. */
static int track_events(const struct decoded *d, uint64_t uuid, const struct ev **out)
{
	int i, j, n = 0;

	for (i = 0; i < d->nr_evs; i++)
		if (d->evs[i].track == uuid)
			out[n++] = &d->evs[i];
	for (i = 1; i < n; i++) {
		const struct ev *e = out[i];

		for (j = i; j > 0 && out[j - 1]->ts > e->ts; j--)
			out[j] = out[j - 1];
		out[j] = e;
	}
	return n;
}

/* A finished slice of a track: its BEGIN event, end time and depth. */
struct slice {
	const struct ev *begin;
	uint64_t end;
	int depth;
};

/* Every BEGIN has its END on the track, nothing left open: the slices, in begin order. */
static int track_slices(const struct decoded *d, uint64_t uuid, struct slice *out)
{
	const struct ev *evs[MAX_EVS];
	int n = track_events(d, uuid, evs), stack[MAX_EVS], depth = 0, ns = 0, i;

	for (i = 0; i < n; i++) {
		const struct ev *e = evs[i];

		if (e->type == PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN) {
			out[ns] = (struct slice){ .begin = e, .depth = depth };
			stack[depth++] = ns++;
		} else if (e->type == PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END) {
			assert_true(depth > 0);
			out[stack[--depth]].end = e->ts;
		} else {
			assert_int_equal(e->type, PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT);
		}
	}
	assert_int_equal(depth, 0);
	return ns;
}

static void test_perfetto_header(void **state)
{
	struct timeline *tl = scenario(NULL);
	const Perfetto__Protos__ClockSnapshot *snap;
	const Packet *first;
	struct decoded d;
	size_t len;
	char *buf = capture(out_perfetto__write, tl, &len);

	(void)state;
	decode(&d, buf, len);
	first = d.trace->packet[0];
	assert_int_equal(first->data_case, PERFETTO__PROTOS__TRACE_PACKET__DATA_CLOCK_SNAPSHOT);
	assert_int_equal(first->sequence_flags,
			 PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED);
	snap = first->clock_snapshot;
	assert_true(snap->has_primary_trace_clock);
	assert_int_equal(snap->primary_trace_clock,
			 PERFETTO__PROTOS__BUILTIN_CLOCK__BUILTIN_CLOCK_MONOTONIC);
	assert_int_equal(snap->n_clocks, 1);
	assert_int_equal(snap->clocks[0]->clock_id, 3);
	assert_int_equal(snap->clocks[0]->timestamp, 100);

	/* one process, three threads, four tasks; descriptors before any event */
	assert_int_equal(d.nr_tracks, 8);
	assert_true(d.last_descriptor < d.first_event);
	assert_int_equal(d.tracks[0].kind, TRACK_PROCESS);
	assert_int_equal(d.tracks[0].td->process->pid, TR_PID);
	assert_string_equal(d.tracks[0].td->process->process_name, "server");
	assert_string_equal(thread_track(&d, 10)->td->thread->thread_name, "worker-0");
	assert_string_equal(thread_track(&d, 11)->td->thread->thread_name, "worker-1");
	assert_null(thread_track(&d, 12)->td->thread->thread_name);
	assert_int_equal(thread_track(&d, 12)->td->thread->pid, TR_PID);
	assert_int_equal(task_track(&d, "task 1 app::alpha")->td->parent_uuid, d.tracks[0].uuid);
	assert_int_equal(task_track(&d, "task 2 app::beta")->td->parent_uuid, d.tracks[0].uuid);
	assert_int_equal(task_track(&d, "task 3")->td->parent_uuid, d.tracks[0].uuid);
	assert_int_equal(task_track(&d, "task 4 app::beta")->td->parent_uuid, d.tracks[0].uuid);

	/*
	 * Interned once each: names app::alpha, app::beta, wake, self-wake,
	 * spawn, scheduled, running, idle; categories poll, wake, spawn, task;
	 * annotation names task, poll, result, nested, by_task, op, parent,
	 * location, kind, origin, polls, state.
	 */
	assert_int_equal(d.defs_names, 8);
	assert_int_equal(d.defs_cats, 4);
	assert_int_equal(d.defs_anns, 12);
	release(&d);
	free(buf);
	timeline__free(tl);
}

static void test_perfetto_polls(void **state)
{
	struct timeline *tl = scenario(NULL);
	struct slice sl[MAX_EVS];
	uint64_t per_task[5] = { 0 };
	struct decoded d;
	size_t len;
	char *buf = capture(out_perfetto__write, tl, &len);
	int i, n, total = 0;

	(void)state;
	decode(&d, buf, len);
	for (i = 0; i < d.nr_tracks; i++) {
		if (d.tracks[i].kind != TRACK_THREAD)
			continue;
		n = track_slices(&d, d.tracks[i].uuid, sl);
		for (int k = 0; k < n; k++) {
			uint64_t task = ann_u64(&d, sl[k].begin, "task");

			assert_string_equal(sl[k].begin->cat, "poll");
			assert_true(task >= 1 && task <= 4);
			per_task[task]++;
			total++;
		}
	}
	/* poll slices per task = the polls the records tell */
	assert_int_equal(total, 7);
	assert_int_equal(per_task[1], 3);
	assert_int_equal(per_task[2], 2);
	assert_int_equal(per_task[3], 2);
	assert_int_equal(per_task[4], 0);

	/* tid 10: A#1 with B#1 nested in it, then B#2, C#1 */
	n = track_slices(&d, thread_track(&d, 10)->uuid, sl);
	assert_int_equal(n, 4);
	assert_string_equal(sl[0].begin->name, "app::alpha");
	assert_int_equal(sl[0].begin->ts, 150);
	assert_int_equal(sl[0].end, 200);
	assert_int_equal(ann_u64(&d, sl[0].begin, "poll"), 1);
	assert_string_equal(ann_str(&d, sl[0].begin, "result"), "Pending");
	assert_string_equal(sl[1].begin->name, "app::beta");
	assert_int_equal(sl[1].depth, 1);
	assert_int_equal(sl[1].end, 180);
	assert_non_null(ann(&d, sl[1].begin, "nested"));
	assert_true(ann(&d, sl[1].begin, "nested")->bool_value);
	assert_null(ann(&d, sl[0].begin, "nested"));
	assert_int_equal(sl[2].depth, 0);
	assert_int_equal(ann_u64(&d, sl[2].begin, "poll"), 2);
	/* no type: named after the task, not interned */
	assert_string_equal(sl[3].begin->name, "task 3");
	assert_int_equal(sl[3].begin->te->name_field_case,
			 PERFETTO__PROTOS__TRACK_EVENT__NAME_FIELD_NAME);

	/* tid 11: A#2, A#3 (Ready), C#2 still running at the end */
	n = track_slices(&d, thread_track(&d, 11)->uuid, sl);
	assert_int_equal(n, 3);
	assert_string_equal(ann_str(&d, sl[1].begin, "result"), "Ready");
	assert_int_equal(ann_u64(&d, sl[1].begin, "poll"), 3);
	assert_string_equal(ann_str(&d, sl[2].begin, "result"), "Running");
	assert_int_equal(sl[2].end, TR_END);
	release(&d);
	free(buf);
	timeline__free(tl);
}

struct want_slice {
	const char *name;
	uint64_t start, end;
	int depth;
};

static void expect_slices(const struct decoded *d, const char *track,
			  const struct want_slice *want, int n)
{
	struct slice sl[MAX_EVS];
	int i, got = track_slices(d, task_track(d, track)->uuid, sl);

	assert_int_equal(got, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(sl[i].begin->name, want[i].name);
		assert_string_equal(sl[i].begin->cat, "task");
		assert_int_equal(sl[i].begin->ts, want[i].start);
		assert_int_equal(sl[i].end, want[i].end);
		assert_int_equal(sl[i].depth, want[i].depth);
	}
}

static void test_perfetto_lives(void **state)
{
	static const struct want_slice a[] = {
		{ "app::alpha", 100, 550, 0 },
		{ "scheduled", 100, 150, 1 }, { "running", 150, 200, 1 },
		{ "scheduled", 200, 300, 1 }, { "running", 300, 350, 1 },
		{ "idle", 350, 400, 1 }, { "scheduled", 400, 500, 1 },
		{ "running", 500, 550, 1 },
	};
	static const struct want_slice c[] = {
		{ "task 3", 600, TR_END, 0 },
		{ "running", 600, 650, 1 }, { "idle", 650, 900, 1 }, { "running", 900, TR_END, 1 },
	};
	static const struct want_slice dd[] = {
		{ "app::beta", 700, TR_END, 0 }, { "scheduled", 700, TR_END, 1 },
	};
	struct timeline *tl = scenario(NULL);
	struct slice sl[MAX_EVS];
	struct decoded d;
	size_t len;
	char *buf = capture(out_perfetto__write, tl, &len);

	(void)state;
	decode(&d, buf, len);
	expect_slices(&d, "task 1 app::alpha", a, 8);
	expect_slices(&d, "task 3", c, 4);
	expect_slices(&d, "task 4 app::beta", dd, 2);

	track_slices(&d, task_track(&d, "task 1 app::alpha")->uuid, sl);
	assert_int_equal(ann_u64(&d, sl[0].begin, "task"), 1);
	assert_string_equal(ann_str(&d, sl[0].begin, "kind"), "async");
	assert_string_equal(ann_str(&d, sl[0].begin, "origin"), "spawned");
	assert_string_equal(ann_str(&d, sl[0].begin, "state"), "done");
	assert_string_equal(ann_str(&d, sl[0].begin, "location"), "src/main.rs:10:5");
	assert_int_equal(ann_u64(&d, sl[0].begin, "polls"), 3);
	assert_null(ann(&d, sl[0].begin, "parent"));
	track_slices(&d, task_track(&d, "task 2 app::beta")->uuid, sl);
	assert_int_equal(ann_u64(&d, sl[0].begin, "parent"), 1);
	assert_string_equal(ann_str(&d, sl[0].begin, "state"), "open");
	track_slices(&d, task_track(&d, "task 3")->uuid, sl);
	assert_string_equal(ann_str(&d, sl[0].begin, "origin"), "late");
	assert_string_equal(ann_str(&d, sl[0].begin, "kind"), "?");
	release(&d);
	free(buf);
	timeline__free(tl);
}

/* The event that starts (flow_ids) or ends (terminating_flow_ids) flow id. */
static const struct ev *flow_end(const struct decoded *d, uint64_t id, bool terminating)
{
	const struct ev *found = NULL;

	for (int i = 0; i < d->nr_evs; i++) {
		const TrackEvent *te = d->evs[i].te;
		size_t n = terminating ? te->n_terminating_flow_ids : te->n_flow_ids;
		const uint64_t *ids = terminating ? te->terminating_flow_ids : te->flow_ids;

		for (size_t k = 0; k < n; k++) {
			if (ids[k] != id)
				continue;
			assert_null(found);	/* each end once */
			found = &d->evs[i];
		}
	}
	return found;
}

static void test_perfetto_flows(void **state)
{
	struct timeline *tl = scenario(NULL);
	int i, sources = 0, wakes = 0, self = 0, spawns = 0;
	const struct ev *src, *dst;
	struct decoded d;
	size_t len;
	char *buf = capture(out_perfetto__write, tl, &len);

	(void)state;
	decode(&d, buf, len);
	/* every flow starts at an instant and ends at the BEGIN of a poll on a thread */
	for (i = 0; i < d.nr_evs; i++) {
		const struct ev *e = &d.evs[i];

		if (e->type == PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT) {
			wakes += !strcmp(e->name, "wake");
			self += !strcmp(e->name, "self-wake");
			spawns += !strcmp(e->name, "spawn");
			assert_int_equal(track_of(&d, e->track)->kind, TRACK_THREAD);
		}
		for (size_t k = 0; k < e->te->n_flow_ids; k++) {
			sources++;
			assert_int_equal(e->type, PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT);
			dst = flow_end(&d, e->te->flow_ids[k], true);
			assert_non_null(dst);
			assert_int_equal(dst->type, PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN);
			assert_string_equal(dst->cat, "poll");
			assert_true(dst->ts >= e->ts);
			assert_non_null(flow_end(&d, e->te->flow_ids[k], false));
		}
		if (e->te->n_terminating_flow_ids)
			for (size_t k = 0; k < e->te->n_terminating_flow_ids; k++)
				assert_non_null(flow_end(&d, e->te->terminating_flow_ids[k], false));
	}
	assert_int_equal(wakes, 2);
	assert_int_equal(self, 1);
	assert_int_equal(spawns, 3);
	/* 3 wakes that made their task runnable, the spawns of A and B (D never ran) */
	assert_int_equal(sources, 5);

	/* the self-wake in A#1 leads to A#2 */
	src = flow_end(&d, 1, false);
	assert_string_equal(src->name, "self-wake");
	assert_int_equal(src->ts, 190);
	assert_int_equal(ann_u64(&d, src, "task"), 1);
	assert_int_equal(ann_u64(&d, src, "by_task"), 1);
	assert_string_equal(ann_str(&d, src, "op"), "wake_by_ref");
	dst = flow_end(&d, 1, true);
	assert_int_equal(dst->ts, 300);
	assert_int_equal(dst->track, thread_track(&d, 11)->uuid);
	/* B's wake from tid 12 leads to B#2 */
	src = flow_end(&d, 3, false);
	assert_int_equal(src->track, thread_track(&d, 12)->uuid);
	assert_null(ann(&d, src, "by_task"));
	assert_int_equal(flow_end(&d, 3, true)->ts, 390);
	/* the spawn of B (flow nr_wakes + task index + 1) leads to B#1 */
	src = flow_end(&d, 3 + 1 + 1, false);
	assert_string_equal(src->name, "spawn");
	assert_int_equal(src->ts, 160);
	assert_int_equal(ann_u64(&d, src, "parent"), 1);
	assert_int_equal(flow_end(&d, 5, true)->ts, 170);
	release(&d);
	free(buf);
	timeline__free(tl);
}

static void test_perfetto_realtime(void **state)
{
	int64_t off = 1700000000000000000LL;
	struct timeline *tl = scenario(&off);
	const Perfetto__Protos__ClockSnapshot *snap;
	struct decoded d;
	size_t len;
	char *buf = capture(out_perfetto__write, tl, &len);

	(void)state;
	decode(&d, buf, len);
	snap = d.trace->packet[0]->clock_snapshot;
	assert_int_equal(snap->n_clocks, 2);
	assert_int_equal(snap->clocks[1]->clock_id,
			 PERFETTO__PROTOS__BUILTIN_CLOCK__BUILTIN_CLOCK_REALTIME);
	assert_int_equal(snap->clocks[1]->timestamp, 100 + off);
	release(&d);
	free(buf);
	timeline__free(tl);
}

/* A writer that cannot write says so. */
static void test_write_errors(void **state)
{
	struct timeline *tl = scenario(NULL);
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(out_perfetto__write(f, tl), -EIO);
	fclose(f);
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(out_chrome__write(f, tl), -EIO);
	fclose(f);
	assert_int_equal(out_perfetto__write(NULL, tl), -EINVAL);
	assert_int_equal(out_chrome__write(stdout, NULL), -EINVAL);
	timeline__free(tl);
	/* not finished: nothing to draw yet */
	tl = timeline__new();
	assert_non_null(tl);
	assert_int_equal(out_perfetto__write(stdout, tl), -EINVAL);
	assert_int_equal(out_chrome__write(stdout, tl), -EINVAL);
	timeline__free(tl);
}

/* --- Chrome JSON --- */

/* A strict little JSON syntax check: returns the end of one value, NULL if invalid. */
static const char *json_value(const char *s);

static const char *json_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static const char *json_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	for (; *s != '"'; s++) {
		if (!*s || (unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\' && !strchr("\"\\/bfnrtu", *++s))
			return NULL;
	}
	return s + 1;
}

static const char *json_number(const char *s)
{
	const char *start = s;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else
		while (*s >= '0' && *s <= '9')
			s++;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return s > start ? s : NULL;
}

static const char *json_seq(const char *s, char close, bool object)
{
	s = json_ws(s + 1);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (object) {
			s = json_string(json_ws(s));
			if (!s || *(s = json_ws(s)) != ':')
				return NULL;
			s++;
		}
		s = json_value(s);
		if (!s)
			return NULL;
		s = json_ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *s)
{
	s = json_ws(s);
	switch (*s) {
	case '{':	return json_seq(s, '}', true);
	case '[':	return json_seq(s, ']', false);
	case '"':	return json_string(s);
	case 't':	return strncmp(s, "true", 4) ? NULL : s + 4;
	case 'f':	return strncmp(s, "false", 5) ? NULL : s + 5;
	case 'n':	return strncmp(s, "null", 4) ? NULL : s + 4;
	default:	return json_number(s);
	}
}

/* Lines (one event each) that contain every one of the NULL-terminated strings. */
static int count_lines(const char *buf, ...)
{
	const char *line = buf, *end;
	int n = 0;

	for (; *line; line = *end ? end + 1 : end) {
		char tmp[1024];
		const char *sub;
		va_list ap;
		bool all = true;

		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		assert_true((size_t)(end - line) < sizeof(tmp));
		memcpy(tmp, line, end - line);
		tmp[end - line] = '\0';
		va_start(ap, buf);
		while ((sub = va_arg(ap, const char *)))
			all = all && strstr(tmp, sub);
		va_end(ap);
		n += all;
	}
	return n;
}

static void test_chrome(void **state)
{
	struct timeline *tl = scenario(NULL);
	const char *end;
	size_t len;
	char *buf = capture(out_chrome__write, tl, &len);

	(void)state;
	end = json_value(buf);
	assert_non_null(end);
	assert_string_equal(json_ws(end), "");
	assert_true(!strncmp(buf, "{\"traceEvents\":[\n", 17));
	assert_non_null(strstr(buf, "\n],\"displayTimeUnit\":\"ns\"}\n"));

	assert_int_equal(count_lines(buf, "\"ph\":\"M\"", NULL), 3);
	assert_int_equal(count_lines(buf, "\"ph\":\"M\"", "\"name\":\"thread_name\"",
				     "\"tid\":10,", "{\"name\":\"worker-0\"}", NULL), 1);
	assert_int_equal(count_lines(buf, "\"ph\":\"M\"", "\"process_name\"", "\"server\"", NULL), 1);

	/* polls: complete events, per task as many as the records tell */
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", NULL), 7);
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"args\":{\"task\":1,", NULL), 3);
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"args\":{\"task\":2,", NULL), 2);
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"args\":{\"task\":3,", NULL), 2);
	assert_int_equal(count_lines(buf,
		"{\"ph\":\"X\",\"cat\":\"poll\",\"name\":\"app::alpha\",\"pid\":4242,\"tid\":10,"
		"\"ts\":0.150,\"dur\":0.050,\"args\":{\"task\":1,\"poll\":1,\"result\":\"Pending\"}}",
		NULL), 1);
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"name\":\"task 3\"", "\"ts\":0.900,",
				     "\"dur\":0.100,", "\"result\":\"Running\"", NULL), 1);
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"nested\":true", NULL), 1);

	/* task lives: nestable async events, balanced: 4 tasks, 17 segments */
	assert_int_equal(count_lines(buf, "\"ph\":\"b\"", "\"cat\":\"task\"", NULL), 21);
	assert_int_equal(count_lines(buf, "\"ph\":\"e\"", "\"cat\":\"task\"", NULL), 21);
	assert_int_equal(count_lines(buf, "\"ph\":\"b\"", "\"id2\":{\"local\":\"0x1\"}", NULL), 8);
	assert_int_equal(count_lines(buf, "\"ph\":\"b\"", "\"name\":\"app::alpha\"", "\"ts\":0.100,",
				     "\"kind\":\"async\"", "\"origin\":\"spawned\"", NULL), 1);
	assert_int_equal(count_lines(buf, "\"ph\":\"e\"", "\"name\":\"app::alpha\"", "\"ts\":0.550",
				     NULL), 1);

	/* wakes and spawns: thread instants */
	assert_int_equal(count_lines(buf, "\"ph\":\"i\"", "\"s\":\"t\"", NULL), 6);
	assert_int_equal(count_lines(buf, "\"ph\":\"i\"", "\"name\":\"self-wake\"", "\"tid\":10,",
				     "\"ts\":0.190,", NULL), 1);

	/* flows from wakes and spawns made inside a poll: A's two wakes and B's spawn */
	assert_int_equal(count_lines(buf, "\"ph\":\"s\"", NULL), 3);
	assert_int_equal(count_lines(buf, "\"ph\":\"f\"", "\"bp\":\"e\"", NULL), 3);
	assert_int_equal(count_lines(buf,
		"{\"ph\":\"s\",\"cat\":\"flow\",\"name\":\"wake\",\"pid\":4242,\"tid\":10,"
		"\"ts\":0.190,\"id\":1}", NULL), 1);
	assert_int_equal(count_lines(buf,
		"{\"ph\":\"f\",\"cat\":\"flow\",\"name\":\"wake\",\"pid\":4242,\"tid\":11,"
		"\"ts\":0.301,\"bp\":\"e\",\"id\":1}", NULL), 1);
	assert_int_equal(count_lines(buf, "\"ph\":\"f\"", "\"name\":\"spawn\"", "\"id\":5}",
				     "\"ts\":0.171,", NULL), 1);
	free(buf);
	timeline__free(tl);
}

/* Timestamps keep every nanosecond, however large. */
static void test_chrome_big_times(void **state)
{
	struct timeline *tl = timeline__new();
	struct tr_list l = { .n = 0 };
	size_t len;
	char *buf;

	(void)state;
	assert_non_null(tl);
	tr_poll(&l, 10, 1, AS_TYPE_UNKNOWN, 987654321012345678ULL, 987654321012345679ULL, 0);
	assert_int_equal(timeline__feed(tl, &l.rec[0], l.rec[0].h.size), 0);
	assert_int_equal(timeline__finish(tl, 0), 0);
	buf = capture(out_chrome__write, tl, &len);
	assert_non_null(json_value(buf));
	assert_int_equal(count_lines(buf, "\"ph\":\"X\"", "\"ts\":987654321012345.678,",
				     "\"dur\":0.001,", NULL), 1);
	free(buf);
	timeline__free(tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perfetto_header),
		cmocka_unit_test(test_perfetto_polls),
		cmocka_unit_test(test_perfetto_lives),
		cmocka_unit_test(test_perfetto_flows),
		cmocka_unit_test(test_perfetto_realtime),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_chrome),
		cmocka_unit_test(test_chrome_big_times),
	};

	return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
