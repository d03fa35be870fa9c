// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Timeline -> Perfetto trace.  Every packet is packed with protobuf-c and
 * framed as field 1 of perfetto.protos.Trace, so the file is one Trace
 * message written packet by packet.
 *
 * One packet sequence: the first packet clears its incremental state and
 * says the trace clock is CLOCK_MONOTONIC (the clock of every record);
 * event names, categories and annotation names are interned, each sent in
 * the first packet that uses it: the fixed ones have fixed iids (their
 * position + 1), the future types' names come after them.
 *
 * trace_processor sorts packets by time (ties in file order), so each track
 * is written in its own order: a thread's polls with a stack, so that an
 * END always precedes a BEGIN at the same time and nested polls close
 * before their parent.
 *
 * Flow ids: wake i is flow i + 1, the spawn of task j is flow nr_wakes + j + 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "array.h"
#include "asyncscope.h"
#include "idx_map.h"
#include "io_stats.h"
#include "out_perfetto.h"
#include "perfetto_trace.pb-c.h"
#include "timeline.h"

#define PF_MAX_ANNS		8
#define PF_CLOCK		PERFETTO__PROTOS__BUILTIN_CLOCK__BUILTIN_CLOCK_MONOTONIC
#define SEQ_CLEARED		PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED
#define SEQ_NEEDS		PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE
#define TYPE_BEGIN		PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN
#define TYPE_END		PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END
#define TYPE_INSTANT		PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT

typedef Perfetto__Protos__TrackEvent__Type pf_type;

enum pf_cat { CAT_POLL, CAT_WAKE, CAT_SPAWN, CAT_TASK, CAT_IO, CAT__MAX };

static const char *const cat_names[CAT__MAX] = {
	[CAT_POLL] = "poll", [CAT_WAKE] = "wake", [CAT_SPAWN] = "spawn", [CAT_TASK] = "task",
	[CAT_IO] = "io",
};

enum pf_key {
	KEY_TASK, KEY_POLL, KEY_RESULT, KEY_NESTED, KEY_CANCELLED, KEY_BY_TASK, KEY_OP,
	KEY_PARENT, KEY_LOCATION, KEY_KIND, KEY_ORIGIN, KEY_POLLS, KEY_STATE,
	KEY_SOURCE, KEY_FD, KEY_BYTES, KEY_SOCKET, KEY_ERRNO, KEY__MAX
};

static const char *const key_names[KEY__MAX] = {
	[KEY_TASK] = "task", [KEY_POLL] = "poll", [KEY_RESULT] = "result",
	[KEY_NESTED] = "nested", [KEY_CANCELLED] = "cancelled", [KEY_BY_TASK] = "by_task",
	[KEY_OP] = "op", [KEY_PARENT] = "parent", [KEY_LOCATION] = "location",
	[KEY_KIND] = "kind", [KEY_ORIGIN] = "origin", [KEY_POLLS] = "polls", [KEY_STATE] = "state",
	[KEY_SOURCE] = "source", [KEY_FD] = "fd", [KEY_BYTES] = "bytes", [KEY_SOCKET] = "socket",
	[KEY_ERRNO] = "errno",
};

/*
 * Event names known in advance: a wake with a known source is
 * NAME_WAKE_SRC + its enum wake_source, a socket operation NAME_SOCK + its
 * enum as_sock_op - 1, a life segment NAME_SEG + its tl_seg_state.
 */
enum pf_name {
	NAME_WAKE, NAME_SELF_WAKE, NAME_SPAWN,
	NAME_WAKE_SRC, NAME_SOCK = NAME_WAKE_SRC + WAKE_SRC__NR,
	NAME_SEG = NAME_SOCK + AS_SOCK_CLOSE, NAME__MAX = NAME_SEG + 3
};

static const char *const fixed_names[NAME__MAX] = {
	[NAME_WAKE] = "wake", [NAME_SELF_WAKE] = "self-wake", [NAME_SPAWN] = "spawn",
	[NAME_WAKE_SRC + WAKE_SRC_SELF] = "self-wake",
	[NAME_WAKE_SRC + WAKE_SRC_TASK] = "task wake",
	[NAME_WAKE_SRC + WAKE_SRC_BLOCKING] = "blocking wake",
	[NAME_WAKE_SRC + WAKE_SRC_IO] = "io wake",
	[NAME_WAKE_SRC + WAKE_SRC_TIMER] = "timer wake",
	[NAME_WAKE_SRC + WAKE_SRC_EXTERNAL] = "external wake",
	[NAME_WAKE_SRC + WAKE_SRC_OTHER] = "wake",
	[NAME_SOCK + AS_SOCK_RECV - 1] = "recv", [NAME_SOCK + AS_SOCK_SEND - 1] = "send",
	[NAME_SOCK + AS_SOCK_CONNECT - 1] = "connect", [NAME_SOCK + AS_SOCK_ACCEPT - 1] = "accept",
	[NAME_SOCK + AS_SOCK_CLOSE - 1] = "close",
	[NAME_SEG + TL_SEG_SCHEDULED] = "scheduled", [NAME_SEG + TL_SEG_RUNNING] = "running",
	[NAME_SEG + TL_SEG_IDLE] = "idle",
};

/*
 * The interning index of the future types' names: iid = position + 1;
 * strings are borrowed from the timeline.  Looked up by address (one
 * lookup per poll), by content on a miss (two types may share a name).
 */
struct pf_intern {
	const char **strs;
	size_t nr, cap;
	struct idx_map map;		/* content -> position */
	struct pf_alias *alias;		/* address -> iid */
	size_t nr_alias, cap_alias;
	struct idx_map alias_map;
};

struct pf_alias {
	const char *s;
	uint64_t iid;
};

struct pf_writer {
	FILE *f;
	const struct timeline *tl;
	int err;			/* sticky */
	uint8_t *buf;			/* packets not written yet */
	size_t len, cap;
	char *name;			/* scratch for names built here */
	size_t name_cap;
	struct pf_intern types;		/* future types' names: iid NAME__MAX + theirs */
	bool name_sent[NAME__MAX], cat_sent[CAT__MAX], key_sent[KEY__MAX];
	uint64_t thread_uuid0, task_uuid0;
};

/* A TracePacket holding a TrackEvent, with room for what it refers to. */
struct pf_event {
	Perfetto__Protos__TracePacket pkt;
	Perfetto__Protos__TrackEvent ev;
	Perfetto__Protos__InternedData in;
	Perfetto__Protos__EventName name, *name_p;
	Perfetto__Protos__EventCategory cat, *cat_p;
	uint64_t cat_iid;
	Perfetto__Protos__DebugAnnotationName ann_names[PF_MAX_ANNS], *ann_name_p[PF_MAX_ANNS];
	Perfetto__Protos__DebugAnnotation anns[PF_MAX_ANNS], *ann_p[PF_MAX_ANNS];
	Perfetto__Protos__DebugAnnotation spare;	/* past PF_MAX_ANNS: a bug, w->err says so */
	uint64_t flows[2], term[2];
};

static int intern_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct pf_intern *in = ctx;

	return strcmp(in->strs[idx], key) == 0;
}

static int alias_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct pf_intern *in = ctx;

	return in->alias[idx].s == key;
}

static uint64_t ptr_hash(const char *s)
{
	return idx_map__hash_u64((uintptr_t)s);
}

/* Remembers that address s is iid: 0 or -errno. */
static int alias_add(struct pf_intern *in, const char *s, uint64_t iid)
{
	int err;

	err = array__grow((void **)&in->alias, &in->cap_alias, in->nr_alias + 1,
			  sizeof(*in->alias));
	if (!err)
		err = idx_map__add(&in->alias_map, ptr_hash(s), in->nr_alias);
	if (err)
		return err;
	in->alias[in->nr_alias++] = (struct pf_alias){ .s = s, .iid = iid };
	return 0;
}

/* The iid of s, *fresh when it is new (then it must be sent); 0 on error. */
static uint64_t intern(struct pf_writer *w, struct pf_intern *in, const char *s, bool *fresh)
{
	uint64_t hash;
	long idx;
	int err;

	*fresh = false;
	idx = idx_map__find(&in->alias_map, ptr_hash(s), alias_match, in, s);
	if (idx >= 0)
		return in->alias[idx].iid;
	hash = idx_map__hash_bytes(s, strlen(s));
	idx = idx_map__find(&in->map, hash, intern_match, in, s);
	if (idx < 0) {
		err = array__grow((void **)&in->strs, &in->cap, in->nr + 1, sizeof(*in->strs));
		if (!err)
			err = idx_map__add(&in->map, hash, in->nr);
		if (err)
			goto fail;
		in->strs[in->nr] = s;
		idx = in->nr++;
		*fresh = true;
	}
	err = alias_add(in, s, idx + 1);
	if (err)
		goto fail;
	return idx + 1;
fail:
	w->err = err;
	return 0;
}

static void intern_release(struct pf_intern *in)
{
	free(in->strs);
	free(in->alias);
	idx_map__release(&in->map);
	idx_map__release(&in->alias_map);
}

static void put_varint(uint8_t *out, size_t *len, uint64_t v)
{
	while (v >= 0x80) {
		out[(*len)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[(*len)++] = (uint8_t)v;
}

#define PF_FLUSH_AT		(1u << 20)

static void pf_flush(struct pf_writer *w)
{
	if (w->len && !w->err && fwrite(w->buf, 1, w->len, w->f) != w->len)
		w->err = -EIO;
	w->len = 0;
}

/* Packs pkt as Trace.packet (field 1, length-delimited) into the output. */
static void pf_emit(struct pf_writer *w, Perfetto__Protos__TracePacket *pkt)
{
	size_t len;
	int err;

	if (w->err)
		return;
	pkt->optional_trusted_packet_sequence_id_case =
		PERFETTO__PROTOS__TRACE_PACKET__OPTIONAL_TRUSTED_PACKET_SEQUENCE_ID_TRUSTED_PACKET_SEQUENCE_ID;
	pkt->trusted_packet_sequence_id = OUT_PERFETTO_SEQ_ID;
	len = perfetto__protos__trace_packet__get_packed_size(pkt);
	/* tag, at most 10 bytes of varint length, the packet */
	err = array__grow((void **)&w->buf, &w->cap, w->len + 11 + len, 1);
	if (err) {
		w->err = err;
		return;
	}
	w->buf[w->len++] = (1 << 3) | 2;
	put_varint(w->buf, &w->len, len);
	w->len += perfetto__protos__trace_packet__pack(pkt, w->buf + w->len);
	if (w->len >= PF_FLUSH_AT)
		pf_flush(w);
}

/* A scratch name; valid until the next call. */
static const char *pf_name(struct pf_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *pf_name(struct pf_writer *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->name, w->name_cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->err = -EINVAL;
		return "";
	}
	if ((size_t)n >= w->name_cap) {
		if (array__grow((void **)&w->name, &w->name_cap, n + 1, 1)) {
			w->err = -ENOMEM;
			return "";
		}
		va_start(ap, fmt);
		vsnprintf(w->name, w->name_cap, fmt, ap);
		va_end(ap);
	}
	return w->name;
}

/* --- track events --- */

static void ev_init(struct pf_event *e, uint64_t ts, uint64_t track, pf_type type)
{
	e->pkt = (Perfetto__Protos__TracePacket)PERFETTO__PROTOS__TRACE_PACKET__INIT;
	e->ev = (Perfetto__Protos__TrackEvent)PERFETTO__PROTOS__TRACK_EVENT__INIT;
	e->in = (Perfetto__Protos__InternedData)PERFETTO__PROTOS__INTERNED_DATA__INIT;
	e->pkt.has_timestamp = true;
	e->pkt.timestamp = ts;
	e->pkt.has_timestamp_clock_id = true;
	e->pkt.timestamp_clock_id = PF_CLOCK;
	e->pkt.has_sequence_flags = true;
	e->pkt.sequence_flags = SEQ_NEEDS;
	e->pkt.data_case = PERFETTO__PROTOS__TRACE_PACKET__DATA_TRACK_EVENT;
	e->pkt.track_event = &e->ev;
	e->ev.has_type = true;
	e->ev.type = type;
	e->ev.has_track_uuid = true;
	e->ev.track_uuid = track;
	e->ev.debug_annotations = e->ann_p;
	e->ev.flow_ids = e->flows;
	e->ev.terminating_flow_ids = e->term;
}

static void ev_set_name(struct pf_event *e, uint64_t iid, const char *name, bool send)
{
	e->ev.name_field_case = PERFETTO__PROTOS__TRACK_EVENT__NAME_FIELD_NAME_IID;
	e->ev.name_iid = iid;
	if (!send)
		return;
	e->name = (Perfetto__Protos__EventName)PERFETTO__PROTOS__EVENT_NAME__INIT;
	e->name.has_iid = true;
	e->name.iid = iid;
	e->name.name = (char *)name;
	e->name_p = &e->name;
	e->in.n_event_names = 1;
	e->in.event_names = &e->name_p;
	e->pkt.interned_data = &e->in;
}

static void ev_name(struct pf_writer *w, struct pf_event *e, enum pf_name n)
{
	ev_set_name(e, n + 1, fixed_names[n], !w->name_sent[n]);
	w->name_sent[n] = true;
}

/* A future type's name, interned; it lives as long as the timeline. */
static void ev_type_name(struct pf_writer *w, struct pf_event *e, const char *type)
{
	bool fresh;
	uint64_t iid = intern(w, &w->types, type, &fresh);

	ev_set_name(e, NAME__MAX + iid, type, fresh);
}

/* A name not worth interning (one per task). */
static void ev_raw_name(struct pf_event *e, const char *name)
{
	e->ev.name_field_case = PERFETTO__PROTOS__TRACK_EVENT__NAME_FIELD_NAME;
	e->ev.name = (char *)name;
}

static void ev_cat(struct pf_writer *w, struct pf_event *e, enum pf_cat c)
{
	e->cat_iid = c + 1;
	e->ev.n_category_iids = 1;
	e->ev.category_iids = &e->cat_iid;
	if (w->cat_sent[c])
		return;
	w->cat_sent[c] = true;
	e->cat = (Perfetto__Protos__EventCategory)PERFETTO__PROTOS__EVENT_CATEGORY__INIT;
	e->cat.has_iid = true;
	e->cat.iid = e->cat_iid;
	e->cat.name = (char *)cat_names[c];
	e->cat_p = &e->cat;
	e->in.n_event_categories = 1;
	e->in.event_categories = &e->cat_p;
	e->pkt.interned_data = &e->in;
}

/* A new debug annotation named after key. */
static Perfetto__Protos__DebugAnnotation *ev_ann(struct pf_writer *w, struct pf_event *e,
						  enum pf_key key)
{
	size_t i = e->ev.n_debug_annotations;
	Perfetto__Protos__DebugAnnotation *a;

	if (i >= PF_MAX_ANNS) {
		w->err = -E2BIG;
		return &e->spare;
	}
	a = &e->anns[i];
	*a = (Perfetto__Protos__DebugAnnotation)PERFETTO__PROTOS__DEBUG_ANNOTATION__INIT;
	a->name_field_case = PERFETTO__PROTOS__DEBUG_ANNOTATION__NAME_FIELD_NAME_IID;
	a->name_iid = key + 1;
	e->ann_p[e->ev.n_debug_annotations++] = a;
	if (!w->key_sent[key]) {
		size_t k = e->in.n_debug_annotation_names++;

		w->key_sent[key] = true;
		e->ann_names[k] = (Perfetto__Protos__DebugAnnotationName)
			PERFETTO__PROTOS__DEBUG_ANNOTATION_NAME__INIT;
		e->ann_names[k].has_iid = true;
		e->ann_names[k].iid = key + 1;
		e->ann_names[k].name = (char *)key_names[key];
		e->ann_name_p[k] = &e->ann_names[k];
		e->in.debug_annotation_names = e->ann_name_p;
		e->pkt.interned_data = &e->in;
	}
	return a;
}

static void ann_u64(struct pf_writer *w, struct pf_event *e, enum pf_key key, uint64_t v)
{
	Perfetto__Protos__DebugAnnotation *a = ev_ann(w, e, key);

	a->value_case = PERFETTO__PROTOS__DEBUG_ANNOTATION__VALUE_UINT_VALUE;
	a->uint_value = v;
}

static void ann_str(struct pf_writer *w, struct pf_event *e, enum pf_key key, const char *s)
{
	Perfetto__Protos__DebugAnnotation *a = ev_ann(w, e, key);

	a->value_case = PERFETTO__PROTOS__DEBUG_ANNOTATION__VALUE_STRING_VALUE;
	a->string_value = (char *)s;
}

static void ann_bool(struct pf_writer *w, struct pf_event *e, enum pf_key key)
{
	Perfetto__Protos__DebugAnnotation *a = ev_ann(w, e, key);

	a->value_case = PERFETTO__PROTOS__DEBUG_ANNOTATION__VALUE_BOOL_VALUE;
	a->bool_value = true;
}

static void ev_flow(struct pf_event *e, uint64_t id)
{
	if (e->ev.n_flow_ids < 2)
		e->flows[e->ev.n_flow_ids++] = id;
}

static void ev_term_flow(struct pf_event *e, uint64_t id)
{
	if (e->ev.n_terminating_flow_ids < 2)
		e->term[e->ev.n_terminating_flow_ids++] = id;
}

static void ev_end(struct pf_writer *w, uint64_t ts, uint64_t track)
{
	struct pf_event e;

	ev_init(&e, ts, track, TYPE_END);
	pf_emit(w, &e.pkt);
}

/* --- tracks --- */

static size_t proc_index(const struct timeline *tl, uint32_t pid)
{
	size_t i, n = timeline__nr_procs(tl);

	for (i = 0; i < n; i++)
		if (timeline__proc(tl, i)->pid == pid)
			return i;
	return 0;
}

static uint64_t proc_uuid(const struct pf_writer *w, uint32_t pid)
{
	return 1 + proc_index(w->tl, pid);
}

static uint64_t task_uuid(const struct pf_writer *w, size_t task)
{
	return w->task_uuid0 + task;
}

static uint64_t thread_uuid(const struct pf_writer *w, size_t thread)
{
	return w->thread_uuid0 + thread;
}

static void write_clock(struct pf_writer *w)
{
	Perfetto__Protos__TracePacket pkt = PERFETTO__PROTOS__TRACE_PACKET__INIT;
	Perfetto__Protos__ClockSnapshot snap = PERFETTO__PROTOS__CLOCK_SNAPSHOT__INIT;
	Perfetto__Protos__ClockSnapshot__Clock clocks[2], *cp[2];
	uint64_t t0 = timeline__start_ns(w->tl);
	int64_t rt;
	size_t i;

	for (i = 0; i < 2; i++) {
		clocks[i] = (Perfetto__Protos__ClockSnapshot__Clock)
			PERFETTO__PROTOS__CLOCK_SNAPSHOT__CLOCK__INIT;
		clocks[i].has_clock_id = clocks[i].has_timestamp = true;
		cp[i] = &clocks[i];
	}
	clocks[0].clock_id = PF_CLOCK;
	clocks[0].timestamp = t0;
	snap.n_clocks = 1;
	/* wall-clock time in the UI: CLOCK_REALTIME at the same instant */
	if (!timeline__realtime_offset(w->tl, &rt) && (rt >= 0 || t0 >= (uint64_t)-rt)) {
		clocks[1].clock_id = PERFETTO__PROTOS__BUILTIN_CLOCK__BUILTIN_CLOCK_REALTIME;
		clocks[1].timestamp = t0 + (uint64_t)rt;
		snap.n_clocks = 2;
	}
	snap.clocks = cp;
	snap.has_primary_trace_clock = true;
	snap.primary_trace_clock = PF_CLOCK;
	pkt.has_sequence_flags = true;
	pkt.sequence_flags = SEQ_CLEARED;
	pkt.data_case = PERFETTO__PROTOS__TRACE_PACKET__DATA_CLOCK_SNAPSHOT;
	pkt.clock_snapshot = &snap;
	pf_emit(w, &pkt);
}

static void emit_track(struct pf_writer *w, Perfetto__Protos__TrackDescriptor *td)
{
	Perfetto__Protos__TracePacket pkt = PERFETTO__PROTOS__TRACE_PACKET__INIT;

	pkt.data_case = PERFETTO__PROTOS__TRACE_PACKET__DATA_TRACK_DESCRIPTOR;
	pkt.track_descriptor = td;
	pf_emit(w, &pkt);
}

static void write_tracks(struct pf_writer *w)
{
	const struct timeline *tl = w->tl;
	size_t i;

	for (i = 0; i < timeline__nr_procs(tl); i++) {
		const struct tl_proc *p = timeline__proc(tl, i);
		Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
		Perfetto__Protos__ProcessDescriptor pd = PERFETTO__PROTOS__PROCESS_DESCRIPTOR__INIT;

		td.has_uuid = true;
		td.uuid = 1 + i;
		pd.has_pid = true;
		pd.pid = (int32_t)p->pid;
		pd.process_name = (char *)p->name;
		td.process = &pd;
		emit_track(w, &td);
	}
	for (i = 0; i < timeline__nr_threads(tl); i++) {
		const struct tl_thread *t = timeline__thread(tl, i);
		Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
		Perfetto__Protos__ThreadDescriptor thd = PERFETTO__PROTOS__THREAD_DESCRIPTOR__INIT;

		td.has_uuid = true;
		td.uuid = thread_uuid(w, i);
		thd.has_pid = thd.has_tid = true;
		thd.pid = (int32_t)t->pid;
		thd.tid = (int32_t)t->tid;
		thd.thread_name = (char *)t->name;
		td.thread = &thd;
		emit_track(w, &td);
	}
	for (i = 0; i < timeline__nr_tasks(tl); i++) {
		const struct tl_task *t = timeline__task(tl, i);
		const char *type = timeline__task_name(tl, t);
		Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;

		td.has_uuid = td.has_parent_uuid = true;
		td.uuid = task_uuid(w, i);
		td.parent_uuid = proc_uuid(w, t->pid);
		td.name = (char *)(type ? pf_name(w, "task %" PRIu64 " %s", t->id, type)
					: pf_name(w, "task %" PRIu64, t->id));
		emit_track(w, &td);
	}
}

/* --- thread tracks: polls, wakes, spawns --- */

static const char *poll_result(const struct tl_poll *p)
{
	if (p->flags & TL_POLL_RUNNING)
		return "Running";
	return p->flags & TL_POLL_READY ? "Ready" : "Pending";
}

static uint64_t spawn_flow(const struct pf_writer *w, size_t task)
{
	return timeline__nr_wakes(w->tl) + task + 1;
}

static bool has_spawn_flow(const struct tl_task *t)
{
	return (t->flags & TL_TASK_SPAWN_SEEN) && t->spawn_thread != TL_NONE && t->nr_polls;
}

/* The slice name of a task: its future type, or "task ID". */
static void ev_task_name(struct pf_writer *w, struct pf_event *e, const struct tl_task *t)
{
	const char *type = timeline__task_name(w->tl, t);

	if (type)
		ev_type_name(w, e, type);
	else
		ev_raw_name(e, pf_name(w, "task %" PRIu64, t->id));
}

static void poll_begin(struct pf_writer *w, const struct tl_poll *p)
{
	const struct tl_task *t = timeline__task(w->tl, p->task);
	struct pf_event e;

	ev_init(&e, p->start_ns, thread_uuid(w, p->thread), TYPE_BEGIN);
	ev_task_name(w, &e, t);
	ev_cat(w, &e, CAT_POLL);
	ann_u64(w, &e, KEY_TASK, t->id);
	ann_u64(w, &e, KEY_POLL, p->poll_no);
	ann_str(w, &e, KEY_RESULT, poll_result(p));
	if (p->flags & TL_POLL_NESTED)
		ann_bool(w, &e, KEY_NESTED);
	if (p->flags & TL_POLL_CANCELLED)
		ann_bool(w, &e, KEY_CANCELLED);
	if (p->wake)
		ev_term_flow(&e, p->wake);
	if (p->poll_no == 1 && has_spawn_flow(t))
		ev_term_flow(&e, spawn_flow(w, p->task));
	pf_emit(w, &e.pkt);
}

static void write_polls(struct pf_writer *w)
{
	const struct timeline *tl = w->tl;
	size_t n = timeline__nr_polls(tl), depth = 0, cap = 0, k;
	uint64_t *ends = NULL, track = 0;
	uint32_t thread = TL_NONE;
	int err;

	for (k = 0; k < n && !w->err; k++) {
		const struct tl_poll *p = timeline__poll(tl, timeline__poll_by_thread(tl, k));

		if (p->thread != thread) {
			while (depth)
				ev_end(w, ends[--depth], track);
			thread = p->thread;
			track = thread_uuid(w, thread);
		}
		while (depth && ends[depth - 1] <= p->start_ns)
			ev_end(w, ends[--depth], track);
		poll_begin(w, p);
		err = array__grow((void **)&ends, &cap, depth + 1, sizeof(*ends));
		if (err) {
			w->err = err;
			break;
		}
		ends[depth++] = p->end_ns;
	}
	while (depth && !w->err)
		ev_end(w, ends[--depth], track);
	free(ends);
}

static void write_wakes(struct pf_writer *w)
{
	const struct timeline *tl = w->tl;
	size_t i;

	for (i = 0; i < timeline__nr_wakes(tl) && !w->err; i++) {
		const struct tl_wake *wk = timeline__wake(tl, i);
		const struct tl_task *t = timeline__task(tl, wk->task);
		struct pf_event e;

		int src = tl_wake__source(wk);

		ev_init(&e, wk->ts_ns, thread_uuid(w, wk->thread), TYPE_INSTANT);
		if (src >= 0)
			ev_name(w, &e, NAME_WAKE_SRC + src);
		else
			ev_name(w, &e, wk->flags & TL_WAKE_SELF ? NAME_SELF_WAKE : NAME_WAKE);
		ev_cat(w, &e, CAT_WAKE);
		ann_u64(w, &e, KEY_TASK, t->id);
		if (wk->waker_id)
			ann_u64(w, &e, KEY_BY_TASK, wk->waker_id);
		ann_str(w, &e, KEY_OP, wk->flags & TL_WAKE_BY_REF ? "wake_by_ref" : "wake_by_val");
		if (src >= 0)
			ann_str(w, &e, KEY_SOURCE, wake_source_name(src));
		if (wk->flags & TL_WAKE_CAUSED)
			ev_flow(&e, i + 1);
		pf_emit(w, &e.pkt);
	}
}

static void write_spawns(struct pf_writer *w)
{
	const struct timeline *tl = w->tl;
	size_t i;

	for (i = 0; i < timeline__nr_tasks(tl) && !w->err; i++) {
		const struct tl_task *t = timeline__task(tl, i);
		struct pf_event e;

		if (!(t->flags & TL_TASK_SPAWN_SEEN) || t->spawn_thread == TL_NONE)
			continue;
		ev_init(&e, t->spawn_ns, thread_uuid(w, t->spawn_thread), TYPE_INSTANT);
		ev_name(w, &e, NAME_SPAWN);
		ev_cat(w, &e, CAT_SPAWN);
		ann_u64(w, &e, KEY_TASK, t->id);
		if (t->parent_id)
			ann_u64(w, &e, KEY_PARENT, t->parent_id);
		if (t->location)
			ann_str(w, &e, KEY_LOCATION, t->location);
		if (has_spawn_flow(t))
			ev_flow(&e, spawn_flow(w, i));
		pf_emit(w, &e.pkt);
	}
}

/*
 * Socket operations: instants on the track of the task that made them
 * (the thread's when no task was polled), named by the operation, with the
 * bytes or the error, the fd and the socket.
 */
static void write_socks(struct pf_writer *w)
{
	const struct timeline *tl = w->tl;
	const struct io_stats *io = timeline__io(tl);

	for (size_t i = 0; i < timeline__nr_socks(tl) && !w->err; i++) {
		const struct tl_sock *so = timeline__sock(tl, i);
		const struct io_resource *r = io && so->res != TL_NONE ?
						      io_stats__resource(io, so->res) : NULL;
		char label[2 * IO_ADDR_BUF + 16], local[IO_ADDR_BUF], peer[IO_ADDR_BUF];
		struct pf_event e;

		if (so->op < AS_SOCK_RECV || so->op > AS_SOCK_CLOSE)
			continue;
		ev_init(&e, so->ts_ns, so->task != TL_NONE ? task_uuid(w, so->task) :
							     thread_uuid(w, so->thread), TYPE_INSTANT);
		ev_name(w, &e, NAME_SOCK + so->op - 1);
		ev_cat(w, &e, CAT_IO);
		if (so->task != TL_NONE)
			ann_u64(w, &e, KEY_TASK, timeline__task(tl, so->task)->id);
		if (so->ret < 0) {
			ann_str(w, &e, KEY_RESULT, so->ret == -11 || so->ret == -115 ? "would block"
										  : "error");
			ann_u64(w, &e, KEY_ERRNO, (uint64_t)-so->ret);
		} else if (so->op == AS_SOCK_RECV || so->op == AS_SOCK_SEND) {
			ann_u64(w, &e, KEY_BYTES, (uint64_t)so->ret);
		}
		if (so->fd >= 0)
			ann_u64(w, &e, KEY_FD, (uint64_t)so->fd);
		if (r) {
			io_resource__fmt_addr(r, false, local, sizeof(local));
			io_resource__fmt_addr(r, true, peer, sizeof(peer));
			snprintf(label, sizeof(label), "%s %s -> %s", io_resource__proto_name(r), local,
				 peer);
			ann_str(w, &e, KEY_SOCKET, label);
		}
		pf_emit(w, &e.pkt);
	}
}

/* --- task tracks: lives --- */

struct seg_ctx {
	struct pf_writer *w;
	uint64_t track;
};

static int seg_write(void *ctx, const struct tl_seg *seg)
{
	struct seg_ctx *sc = ctx;
	struct pf_event e;

	ev_init(&e, seg->start_ns, sc->track, TYPE_BEGIN);
	ev_name(sc->w, &e, NAME_SEG + seg->state);
	ev_cat(sc->w, &e, CAT_TASK);
	pf_emit(sc->w, &e.pkt);
	ev_end(sc->w, seg->end_ns, sc->track);
	return sc->w->err;
}

static void write_life(struct pf_writer *w, size_t idx)
{
	const struct tl_task *t = timeline__task(w->tl, idx);
	struct seg_ctx sc = { .w = w, .track = task_uuid(w, idx) };
	struct pf_event e;
	int err;

	ev_init(&e, t->created_ns, sc.track, TYPE_BEGIN);
	ev_task_name(w, &e, t);
	ev_cat(w, &e, CAT_TASK);
	ann_u64(w, &e, KEY_TASK, t->id);
	ann_str(w, &e, KEY_KIND, tl_task__kind_name(t));
	ann_str(w, &e, KEY_ORIGIN, tl_task__origin(t));
	ann_u64(w, &e, KEY_POLLS, t->nr_polls);
	ann_str(w, &e, KEY_STATE, t->flags & TL_TASK_CLOSED ? "done" : "open");
	if (t->parent_id)
		ann_u64(w, &e, KEY_PARENT, t->parent_id);
	if (t->location)
		ann_str(w, &e, KEY_LOCATION, t->location);
	pf_emit(w, &e.pkt);

	err = timeline__task_segments(w->tl, idx, seg_write, &sc);
	if (err && !w->err)
		w->err = err;
	ev_end(w, t->closed_ns, sc.track);
}

int out_perfetto__write(FILE *f, const struct timeline *tl)
{
	struct pf_writer w = { .f = f, .tl = tl };
	size_t i;
	int err;

	if (!f || !tl || !timeline__is_finished(tl))
		return -EINVAL;
	idx_map__init(&w.types.map);
	idx_map__init(&w.types.alias_map);
	w.thread_uuid0 = 1 + timeline__nr_procs(tl);
	w.task_uuid0 = w.thread_uuid0 + timeline__nr_threads(tl);

	write_clock(&w);
	write_tracks(&w);
	write_polls(&w);
	write_wakes(&w);
	write_spawns(&w);
	write_socks(&w);
	for (i = 0; i < timeline__nr_tasks(tl) && !w.err; i++)
		write_life(&w, i);

	pf_flush(&w);
	err = w.err;
	if (!err && (fflush(f) || ferror(f)))
		err = -EIO;
	free(w.buf);
	free(w.name);
	intern_release(&w.types);
	return err;
}
