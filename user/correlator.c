// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer records -> task lifecycles.
 *
 * Ordering facts the state machine is built on (see asyncscope.h):
 *  - a poll is reported once, at its end, so whatever happened inside it
 *    (wakes, spawns, an in-poll completion) arrives before its record;
 *  - records from different CPUs may be delivered slightly out of
 *    timestamp order, so a spawn can follow its task's first poll and a
 *    wake can follow the record of the poll it happened in.
 *
 * Scheduling is therefore decided when a poll record arrives, from the
 * wakes collected since the previous one (priv_wake_min/max_ns):
 *  - runnable_since_ns is the earliest event since the previous poll ended
 *    that made the task runnable: creation, the end of a poll during which
 *    it was woken, or a wake;
 *  - a poll [s, e] adds s - runnable_since to sched when runnable_since <= s;
 *  - a wake inside [s, e] makes the task runnable again from e.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "array.h"
#include "asyncscope.h"
#include "correlator.h"
#include "record.h"
#include "idx_map.h"

#define MAX_SINKS		8
/* Entries of the recent-task cache (struct correlator.recent), a power of two. */
#define TASK_RECENT		4096
/* Tasks live in fixed slabs so that pointers handed out stay valid. */
#define TASK_SLAB_SHIFT		8
#define TASK_SLAB		(1u << TASK_SLAB_SHIFT)
/* "file:line:col": the file, two separators, two u32 and the NUL. */
#define LOC_BUF_SZ		(AS_LOC_FILE_MAX + 2 + 2 * 10 + 1)

_Static_assert(AS_EV__MAX <= sizeof(((struct correlator_stats *)0)->by_type) / sizeof(uint64_t),
	       "correlator_stats.by_type too small");

struct type_name {
	uint32_t pid;
	uint32_t type_idx;
	uint32_t kind;		/* enum as_task_kind of this vtable's tasks, 0 if unknown */
	char *name;
};

struct proc_name {
	uint32_t pid;
	char *name;
	uint64_t first_id;	/* ids from here on were assigned while traced; 0: unknown */
};

struct task_key {
	uint32_t pid;
	uint64_t id;
};

struct correlator {
	struct as_task **slabs;
	size_t nr_slabs;
	size_t nr_tasks;
	size_t max_tasks;
	struct idx_map task_map;
	/*
	 * The tasks looked up last, by hash: task_map keeps every task ever
	 * seen, so past a few hundred thousand a lookup there is two cache
	 * misses, while the records mostly name the few tasks alive now.
	 * index + 1; 0 empty.  Every hit is checked against the task itself.
	 */
	uint32_t recent[TASK_RECENT];

	char **locs;			/* interned locations */
	size_t nr_locs;
	size_t cap_locs;
	struct idx_map loc_map;

	struct type_name *types;
	size_t nr_types;
	size_t cap_types;
	struct idx_map type_map;

	struct proc_name *procs;	/* a handful of pids: a linear scan will do */
	size_t nr_procs;

	struct correlator_sink sinks[MAX_SINKS];
	int nr_sinks;

	struct correlator_stats stats;
	uint64_t max_ts;
};

const char *task_state_name(enum task_state st)
{
	switch (st) {
	case TASK_IDLE:		return "idle";
	case TASK_SCHEDULED:	return "scheduled";
	case TASK_RUNNING:	return "running";
	case TASK_DONE:		return "done";
	default:		return "?";
	}
}


static struct as_task *task_at(const struct correlator *c, size_t idx)
{
	return &c->slabs[idx >> TASK_SLAB_SHIFT][idx & (TASK_SLAB - 1)];
}

static uint64_t task_hash(uint32_t pid, uint64_t id)
{
	return idx_map__hash_u64(id ^ idx_map__hash_u64(pid));
}

static int task_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct as_task *t = task_at(ctx, idx);
	const struct task_key *k = key;

	return t->pid == k->pid && t->id == k->id;
}

static long task_index(const struct correlator *c, uint32_t pid, uint64_t id, uint64_t hash)
{
	struct task_key k = { .pid = pid, .id = id };

	return idx_map__find(&c->task_map, hash, task_match, c, &k);
}

/* The task (pid, id), or NULL; through the recent-task cache, which it updates. */
static struct as_task *task_find(struct correlator *c, uint32_t pid, uint64_t id)
{
	uint64_t hash = task_hash(pid, id);
	uint32_t *slot = &c->recent[hash & (TASK_RECENT - 1)];
	struct as_task *t;
	long idx;

	if (*slot) {
		t = task_at(c, *slot - 1);
		if (t->pid == pid && t->id == id)
			return t;
	}
	idx = task_index(c, pid, id, hash);
	if (idx < 0)
		return NULL;
	/* task_new() keeps indices below UINT32_MAX - 1 */
	*slot = (uint32_t)idx + 1;
	return task_at(c, idx);
}

/*
 * A new, open task.  Returns NULL with *err = -E2BIG past max_tasks (the
 * record is then counted in over_limit_records and ignored) or -ENOMEM.
 */
static struct as_task *task_new(struct correlator *c, uint32_t pid, uint64_t id,
				uint64_t created_ns, int *err)
{
	struct as_task *t;
	size_t idx = c->nr_tasks;
	uint64_t hash;

	if ((c->max_tasks && idx >= c->max_tasks) || idx >= UINT32_MAX - 1) {
		c->stats.over_limit_records++;
		*err = -E2BIG;
		return NULL;
	}
	if ((idx >> TASK_SLAB_SHIFT) == c->nr_slabs) {
		struct as_task **slabs, *slab;

		slab = calloc(TASK_SLAB, sizeof(*slab));
		if (!slab) {
			*err = -ENOMEM;
			return NULL;
		}
		slabs = realloc(c->slabs, (c->nr_slabs + 1) * sizeof(*slabs));
		if (!slabs) {
			free(slab);
			*err = -ENOMEM;
			return NULL;
		}
		slabs[c->nr_slabs++] = slab;
		c->slabs = slabs;
	}
	hash = task_hash(pid, id);
	*err = idx_map__add(&c->task_map, hash, idx);
	if (*err)
		return NULL;
	c->nr_tasks++;
	c->recent[hash & (TASK_RECENT - 1)] = (uint32_t)idx + 1;

	t = task_at(c, idx);
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->id = id;
	t->type_idx = AS_TYPE_UNKNOWN;
	t->created_ns = created_ns;
	/* Runnable from creation until its first poll. */
	t->runnable_since_ns = created_ns;
	return t;
}

static int task_closed(const struct as_task *t)
{
	return t->closed_ns != 0;
}

static void emit(const struct correlator *c, const struct as_task *t, enum span_event ev,
		 uint64_t ts, uint32_t tid)
{
	int i;

	for (i = 0; i < c->nr_sinks; i++)
		c->sinks[i].on_span(c->sinks[i].ctx, t, ev, ts, tid);
}

static struct proc_name *proc_find(const struct correlator *c, uint32_t pid)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		if (c->procs[i].pid == pid)
			return &c->procs[i];
	return NULL;
}

static bool spawned_while_traced(const struct correlator *c, uint32_t pid, uint64_t id)
{
	const struct proc_name *p = proc_find(c, pid);

	return p && p->first_id && id >= p->first_id;
}

static long type_find(const struct correlator *c, uint32_t pid, uint32_t type_idx);

/*
 * A task first seen without its spawn learns its future type from any
 * record that carries it, and from that type its kind.
 */
static void learn_type(struct correlator *c, struct as_task *t, uint32_t type_idx)
{
	long idx;

	if (t->type_idx == AS_TYPE_UNKNOWN)
		t->type_idx = type_idx;
	if (t->kind || t->type_idx == AS_TYPE_UNKNOWN)
		return;
	idx = type_find(c, t->pid, t->type_idx);
	if (idx >= 0)
		t->kind = c->types[idx].kind;
}

/*
 * The task of a non-spawn record, which also teaches it its type: found, or
 * created as a late task first seen at seen_ns.  Returns 0 with *out NULL
 * when the task is not kept (max_tasks), or -errno.
 */
static int task_get(struct correlator *c, const struct as_event_hdr *h, uint64_t id,
		    uint32_t type_idx, uint64_t seen_ns, struct as_task **out)
{
	struct as_task *t;
	int err = 0;

	*out = NULL;
	t = task_find(c, h->pid, id);
	if (t) {
		/*
		 * A late task's creation is the earliest time any of its
		 * records carries: the wakes and the completion inside a poll
		 * precede its record but not its start.
		 */
		if ((t->flags & (TASK_F_LATE | TASK_F_SPAWN_INFERRED)) && seen_ns < t->created_ns &&
		    !task_closed(t)) {
			t->created_ns = seen_ns;
			if (!t->first_poll_ns && t->runnable_since_ns > seen_ns)
				t->runnable_since_ns = seen_ns;
		}
		learn_type(c, t, type_idx);
		*out = t;
		return 0;
	}
	t = task_new(c, h->pid, id, seen_ns, &err);
	if (!t)
		return err == -E2BIG ? 0 : err;
	if (spawned_while_traced(c, h->pid, id)) {
		/* its spawn hooks are inlined: created at its first record */
		t->flags |= TASK_F_SPAWN_INFERRED;
	} else {
		t->flags |= TASK_F_LATE;
		c->stats.late_tasks++;
	}
	learn_type(c, t, type_idx);
	emit(c, t, SPAN_CREATED, seen_ns, h->tid);
	*out = t;
	return 0;
}

static void task_close(struct correlator *c, struct as_task *t, uint64_t ts, uint32_t tid)
{
	if (ts < t->created_ns) {
		c->stats.reordered++;
		ts = t->created_ns;
	}
	t->closed_ns = ts;
	t->flags &= ~TASK_F_IN_POLL;
	t->poll_in_progress_ns = 0;
	t->runnable_since_ns = 0;
	t->priv_wake_min_ns = 0;
	t->priv_wake_max_ns = 0;
	t->priv_complete_ns = 0;
	emit(c, t, SPAN_CLOSED, ts, tid);
}

/*
 * Clamps a time that must not precede the task's creation nor its last
 * poll's end.  Both happen without a fault: spawn's record is stamped at its
 * return, after another worker may have polled the task, and a poll's end
 * is stamped at raw::poll's return, after the task went idle inside it; a
 * thread preempted in between stamps its end after the next poll started.
 * Clamping keeps polls apart and their union of busy time unchanged.
 */
static uint64_t clamp_after_polls(struct correlator *c, const struct as_task *t, uint64_t ts)
{
	uint64_t floor = t->created_ns > t->last_poll_end_ns ? t->created_ns : t->last_poll_end_ns;

	if (ts < floor) {
		c->stats.reordered++;
		return floor;
	}
	return ts;
}

static int on_poll(struct correlator *c, const struct as_ev_poll *e)
{
	uint64_t s = e->start_ns, end = e->h.ts_ns, wmin, wmax, next = 0;
	struct as_task *t;
	int err = 0;

	err = task_get(c, &e->h, e->task_id, e->type_idx, s, &t);
	if (!t)
		return err;
	/* its own waker, cloned and dropped inside: like waker records, on a closed task too */
	t->waker_clones += e->waker_clones;
	t->waker_drops += e->waker_drops;
	/*
	 * A poll that started before one already accounted for: its thread
	 * lost the race to the ring buffer.  The task goes idle inside
	 * raw::poll, before the return probe stamps and reserves the record,
	 * so another worker can wake, poll and even complete it first (and
	 * this record's end may even pass that later poll's start).  Polls of
	 * one task never overlap: count it at its own time, up to the next
	 * poll or the close; the lifecycle has moved on.
	 */
	if (end >= s && ((t->polls && s < t->last_poll_start_ns) ||
			 (task_closed(t) && s < t->closed_ns))) {
		uint64_t cap = t->polls && s < t->last_poll_start_ns ? t->last_poll_start_ns
								      : t->closed_ns;

		c->stats.reordered++;
		if (end > cap)
			end = cap;
		t->polls++;
		t->busy_ns += end - s;
		if (!t->first_poll_ns || s < t->first_poll_ns)
			t->first_poll_ns = s;
		emit(c, t, SPAN_ENTERED, s, e->h.tid);
		emit(c, t, SPAN_EXITED, end, e->h.tid);
		return 0;
	}
	if (task_closed(t)) {
		c->stats.after_close++;
		return 0;
	}
	s = clamp_after_polls(c, t, s);
	if (end < s)
		end = s;

	/* This is the record of the poll correlator__poll_in_progress saw running. */
	if ((t->flags & TASK_F_IN_POLL) && t->poll_in_progress_ns <= s) {
		t->flags &= ~TASK_F_IN_POLL;
		t->poll_in_progress_ns = 0;
	}

	if (t->runnable_since_ns && t->runnable_since_ns <= s)
		t->sched_ns += s - t->runnable_since_ns;

	/*
	 * Only the earliest and latest unconsumed wakes are kept: enough to
	 * tell "woken during this poll" (runnable again from its end) from
	 * "woken after it" (a wake from another CPU that overtook this record).
	 */
	wmin = t->priv_wake_min_ns;
	wmax = t->priv_wake_max_ns;
	if (wmin) {
		if ((wmin >= s && wmin <= end) || (wmax >= s && wmax <= end))
			next = end;
		else if (wmin > end)
			next = wmin;
		else if (wmax > end)
			next = wmax;
	}
	t->runnable_since_ns = next;
	t->priv_wake_min_ns = next > end ? next : 0;
	t->priv_wake_max_ns = next > end ? wmax : 0;

	t->polls++;
	t->busy_ns += end - s;
	if (!t->first_poll_ns)
		t->first_poll_ns = s;
	t->last_poll_start_ns = s;
	t->last_poll_end_ns = end;
	if (e->flags & AS_POLL_CANCELLED)
		t->flags |= TASK_F_CANCELLED;

	emit(c, t, SPAN_ENTERED, s, e->h.tid);
	emit(c, t, SPAN_EXITED, end, e->h.tid);
	if ((e->flags & AS_POLL_READY) || t->priv_complete_ns)
		task_close(c, t, end, e->h.tid);
	return 0;
}

static void wake_runnable(struct correlator *c, struct as_task *t, uint64_t ts)
{
	if (ts < t->created_ns) {
		c->stats.reordered++;
		ts = t->created_ns;
	}
	if (ts < t->last_poll_start_ns) {
		/* Older than a poll already accounted for: too late to matter. */
		c->stats.reordered++;
		return;
	}
	if (ts < t->last_poll_end_ns) {
		/* Woken during the last poll, delivered after its record. */
		if (!t->runnable_since_ns || t->runnable_since_ns > t->last_poll_end_ns)
			t->runnable_since_ns = t->last_poll_end_ns;
		return;
	}
	if (!t->priv_wake_min_ns || ts < t->priv_wake_min_ns)
		t->priv_wake_min_ns = ts;
	if (ts > t->priv_wake_max_ns)
		t->priv_wake_max_ns = ts;
	if (!t->runnable_since_ns || ts < t->runnable_since_ns)
		t->runnable_since_ns = ts;
}

static int on_waker(struct correlator *c, const struct as_ev_waker *e)
{
	struct as_task *t;
	int err = 0;

	err = task_get(c, &e->h, e->task_id, e->type_idx, e->h.ts_ns, &t);
	if (!t)
		return err;

	/*
	 * Wakers outlive their task (the last clones are dropped after
	 * completion), so these count on closed tasks too without being
	 * anomalies; only the lifecycle (spans, scheduling) ends at close.
	 */
	switch (e->op) {
	case AS_WAKER_CLONE:
		t->waker_clones++;
		return 0;
	case AS_WAKER_DROP:
		t->waker_drops++;
		return 0;
	default:
		break;
	}
	t->wakes++;
	t->last_wake_ns = e->h.ts_ns;
	if (e->cur_task_id == e->task_id)
		t->self_wakes++;
	if (task_closed(t))
		return 0;
	wake_runnable(c, t, e->h.ts_ns);
	emit(c, t, SPAN_WOKEN, e->h.ts_ns, e->h.tid);
	return 0;
}

static int loc_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct correlator *c = ctx;

	return strcmp(c->locs[idx], key) == 0;
}

/*
 * Interns "file:line:col": thousands of tasks share a handful of spawn
 * sites.  Bytes outside printable ASCII become '?' so that no output has
 * to sanitise it again.
 */
static const char *loc_intern(struct correlator *c, const struct as_ev_spawn *e, int *err)
{
	char buf[LOC_BUF_SZ], *dup;
	uint64_t hash;
	uint32_t i;
	long idx;
	int n;

	for (i = 0; i < e->file_len; i++) {
		unsigned char ch = e->file[i];

		buf[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	n = snprintf(buf + i, sizeof(buf) - i, ":%u:%u", e->line, e->col);
	hash = idx_map__hash_bytes(buf, i + n);
	idx = idx_map__find(&c->loc_map, hash, loc_match, c, buf);
	if (idx >= 0)
		return c->locs[idx];

	*err = array__grow((void **)&c->locs, &c->cap_locs, c->nr_locs + 1, sizeof(*c->locs));
	if (*err)
		return NULL;
	dup = strdup(buf);
	if (!dup) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = idx_map__add(&c->loc_map, hash, c->nr_locs);
	if (*err) {
		free(dup);
		return NULL;
	}
	c->locs[c->nr_locs++] = dup;
	return dup;
}

static int spawn_fill(struct correlator *c, struct as_task *t, const struct as_ev_spawn *e)
{
	int err = 0;

	if (e->kind == AS_TASK_ASYNC || e->kind == AS_TASK_BLOCKING)
		t->kind = e->kind;
	t->parent_id = e->parent_task_id;
	if (e->type_idx != AS_TYPE_UNKNOWN)
		t->type_idx = e->type_idx;
	if (e->file_len) {
		t->location = loc_intern(c, e, &err);
		if (!t->location)
			return err;
	}
	t->flags |= TASK_F_SPAWN_SEEN;
	return 0;
}

static int on_spawn(struct correlator *c, const struct as_ev_spawn *e)
{
	uint64_t ts = e->h.ts_ns;
	struct as_task *t;
	int err = 0;

	t = task_find(c, e->h.pid, e->task_id);
	if (!t) {
		t = task_new(c, e->h.pid, e->task_id, ts, &err);
		if (!t) {
			if (err != -E2BIG)
				return err;
			c->stats.over_limit_tasks++;
			return 0;
		}
		err = spawn_fill(c, t, e);
		emit(c, t, SPAN_CREATED, ts, e->h.tid);
		return err;
	}
	if (t->flags & TASK_F_SPAWN_SEEN) {
		c->stats.duplicates++;
		return 0;
	}

	/* Its first records overtook the spawn: merge, keeping the earlier creation. */
	if (ts > t->created_ns) {
		c->stats.reordered++;
	} else if (ts < t->created_ns) {
		/* It was runnable from its creation until its first poll. */
		if (t->first_poll_ns)
			t->sched_ns += t->created_ns - ts;
		else if (!t->runnable_since_ns || t->runnable_since_ns > ts)
			t->runnable_since_ns = ts;
		t->created_ns = ts;
	}
	t->flags &= ~TASK_F_LATE;
	return spawn_fill(c, t, e);
}

static int on_complete(struct correlator *c, const struct as_ev_task *e)
{
	struct as_task *t;
	int err = 0;

	err = task_get(c, &e->h, e->task_id, e->type_idx, e->h.ts_ns, &t);
	if (!t)
		return err;
	if (t->flags & TASK_F_COMPLETED) {
		c->stats.duplicates++;
		return 0;
	}
	t->flags |= TASK_F_COMPLETED;
	/* Closed by a READY poll whose completion record came later: nothing to close. */
	if (task_closed(t))
		return 0;
	if (e->flags & AS_TASK_IN_POLL) {
		/* Inside its own poll: it ends with that poll, whose record follows. */
		t->priv_complete_ns = e->h.ts_ns < t->created_ns ? t->created_ns : e->h.ts_ns;
		return 0;
	}
	task_close(c, t, clamp_after_polls(c, t, e->h.ts_ns), e->h.tid);
	return 0;
}

static int on_task_event(struct correlator *c, const struct as_ev_task *e)
{
	struct as_task *t;
	int err = 0;

	err = task_get(c, &e->h, e->task_id, e->type_idx, e->h.ts_ns, &t);
	if (!t)
		return err;
	if (task_closed(t)) {
		c->stats.after_close++;
		return 0;
	}
	if (e->h.type == AS_EV_SHUTDOWN)
		t->flags |= TASK_F_SHUTDOWN;
	else
		t->schedules++;
	return 0;
}

int correlator__feed(struct correlator *c, const void *data, size_t size)
{
	union as_record rec;
	int err;

	c->stats.records++;
	if (record__copy(data, size, &rec) || record__validate(&rec))
		goto malformed;

	c->stats.by_type[rec.h.type]++;
	if (rec.h.ts_ns > c->max_ts)
		c->max_ts = rec.h.ts_ns;
	switch (rec.h.type) {
	case AS_EV_POLL:
		err = on_poll(c, &rec.poll);
		break;
	case AS_EV_WAKER:
		err = on_waker(c, &rec.waker);
		break;
	case AS_EV_SPAWN:
		err = on_spawn(c, &rec.spawn);
		break;
	case AS_EV_COMPLETE:
		err = on_complete(c, &rec.task);
		break;
	case AS_EV_SOCK:
	case AS_EV_SOCK_OP:
	case AS_EV_RUNTIME:
		err = 0;
		break;
	default:
		err = on_task_event(c, &rec.task);
		break;
	}
	return err;

malformed:
	c->stats.malformed++;
	return -EINVAL;
}

int correlator__poll_in_progress(struct correlator *c, uint32_t pid, uint32_t tid,
				 const struct as_poll_frame *f)
{
	struct as_event_hdr h = { .pid = pid, .tid = tid, .ts_ns = f->start_ns };
	uint64_t start_ns = f->start_ns;
	struct as_task *t;
	int err = 0;

	if (!f->task_id || !start_ns)
		return -EINVAL;
	err = task_get(c, &h, f->task_id, f->type_idx, start_ns, &t);
	if (!t)
		return err;
	/* like its waker records, on a closed task too */
	t->waker_clones += f->waker_clones;
	t->waker_drops += f->waker_drops;
	if (task_closed(t)) {
		c->stats.after_close++;
		return 0;
	}
	start_ns = clamp_after_polls(c, t, start_ns);

	/* The wait before this poll is over; a running task is not scheduled. */
	if (t->runnable_since_ns && t->runnable_since_ns <= start_ns)
		t->sched_ns += start_ns - t->runnable_since_ns;
	t->runnable_since_ns = 0;
	/* Wakes during it still count if its record comes after all. */
	if (t->priv_wake_max_ns >= start_ns) {
		if (t->priv_wake_min_ns < start_ns)
			t->priv_wake_min_ns = start_ns;
	} else {
		t->priv_wake_min_ns = 0;
		t->priv_wake_max_ns = 0;
	}

	t->flags |= TASK_F_IN_POLL;
	t->poll_in_progress_ns = start_ns;
	if (!t->first_poll_ns)
		t->first_poll_ns = start_ns;
	if (start_ns > c->max_ts)
		c->max_ts = start_ns;
	emit(c, t, SPAN_ENTERED, start_ns, tid);
	return 0;
}

void correlator__finish(struct correlator *c, uint64_t now_ns)
{
	size_t i;

	/* Tasks close at their completion time, not at now_ns. */
	(void)now_ns;
	for (i = 0; i < c->nr_tasks; i++) {
		struct as_task *t = task_at(c, i);
		uint64_t ts = t->priv_complete_ns;

		if (task_closed(t) || !ts)
			continue;
		/*
		 * Completed inside a poll that was still running when tracing
		 * stopped: that poll's part up to the completion was busy.
		 */
		if ((t->flags & TASK_F_IN_POLL) && t->poll_in_progress_ns <= ts) {
			t->busy_ns += ts - t->poll_in_progress_ns;
			emit(c, t, SPAN_EXITED, ts, 0);
		}
		task_close(c, t, ts, 0);
	}
}

void as_task__times(const struct as_task *t, uint64_t now_ns, struct task_times *out)
{
	uint64_t end = t->closed_ns ? t->closed_ns : now_ns;

	if (end < t->created_ns)
		end = t->created_ns;
	out->total_ns = end - t->created_ns;
	out->busy_ns = t->busy_ns;
	out->sched_ns = t->sched_ns;
	if (t->closed_ns) {
		out->state = TASK_DONE;
	} else if (t->flags & TASK_F_IN_POLL) {
		out->state = TASK_RUNNING;
		if (now_ns > t->poll_in_progress_ns)
			out->busy_ns += now_ns - t->poll_in_progress_ns;
	} else if (!t->polls || t->runnable_since_ns) {
		out->state = TASK_SCHEDULED;
		if (t->runnable_since_ns && now_ns > t->runnable_since_ns)
			out->sched_ns += now_ns - t->runnable_since_ns;
	} else {
		out->state = TASK_IDLE;
	}
	if (out->total_ns > out->busy_ns + out->sched_ns)
		out->idle_ns = out->total_ns - out->busy_ns - out->sched_ns;
	else
		out->idle_ns = 0;
}

struct correlator *correlator__new(const struct correlator_opts *opts)
{
	struct correlator *c;

	if (opts && opts->sz < sizeof(size_t)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* Tolerate an older, shorter opts: read only the fields it has. */
	if (opts && opts->sz >= offsetof(struct correlator_opts, max_tasks) + sizeof(opts->max_tasks))
		c->max_tasks = opts->max_tasks;
	idx_map__init(&c->task_map);
	idx_map__init(&c->loc_map);
	idx_map__init(&c->type_map);
	return c;
}

void correlator__free(struct correlator *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_slabs; i++)
		free(c->slabs[i]);
	free(c->slabs);
	for (i = 0; i < c->nr_locs; i++)
		free(c->locs[i]);
	free(c->locs);
	for (i = 0; i < c->nr_types; i++)
		free(c->types[i].name);
	free(c->types);
	for (i = 0; i < c->nr_procs; i++)
		free(c->procs[i].name);
	free(c->procs);
	idx_map__release(&c->task_map);
	idx_map__release(&c->loc_map);
	idx_map__release(&c->type_map);
	free(c);
}

int correlator__add_sink(struct correlator *c, const struct correlator_sink *sink)
{
	if (!sink || !sink->on_span)
		return -EINVAL;
	if (c->nr_sinks >= MAX_SINKS)
		return -E2BIG;
	c->sinks[c->nr_sinks++] = *sink;
	return 0;
}

int correlator__set_process(struct correlator *c, uint32_t pid, const char *name)
{
	struct proc_name *procs;
	char *dup;
	size_t i;

	if (!name)
		return -EINVAL;
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	for (i = 0; i < c->nr_procs; i++) {
		if (c->procs[i].pid == pid) {
			free(c->procs[i].name);
			c->procs[i].name = dup;
			return 0;
		}
	}
	procs = realloc(c->procs, (c->nr_procs + 1) * sizeof(*procs));
	if (!procs) {
		free(dup);
		return -ENOMEM;
	}
	c->procs = procs;
	c->procs[c->nr_procs].pid = pid;
	c->procs[c->nr_procs].name = dup;
	c->nr_procs++;
	return 0;
}

const char *correlator__process_name(const struct correlator *c, uint32_t pid)
{
	const struct proc_name *p = proc_find(c, pid);

	return p ? p->name : NULL;
}

static uint64_t type_hash(uint32_t pid, uint32_t type_idx)
{
	return idx_map__hash_u64(((uint64_t)pid << 32) | type_idx);
}

static int type_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct correlator *c = ctx;
	const struct type_name *k = key;

	return c->types[idx].pid == k->pid && c->types[idx].type_idx == k->type_idx;
}

static long type_find(const struct correlator *c, uint32_t pid, uint32_t type_idx)
{
	struct type_name k = { .pid = pid, .type_idx = type_idx };

	return idx_map__find(&c->type_map, type_hash(pid, type_idx), type_match, c, &k);
}

int correlator__set_type(struct correlator *c, uint32_t pid, uint32_t type_idx,
			 const char *name, uint32_t kind)
{
	char *dup = NULL;
	long idx;
	int err;

	if (type_idx == AS_TYPE_UNKNOWN)
		return -EINVAL;
	if (name) {
		dup = strdup(name);
		if (!dup)
			return -ENOMEM;
	}
	idx = type_find(c, pid, type_idx);
	if (idx >= 0) {
		if (dup) {
			free(c->types[idx].name);
			c->types[idx].name = dup;
		}
		if (kind)
			c->types[idx].kind = kind;
		return 0;
	}
	err = array__grow((void **)&c->types, &c->cap_types, c->nr_types + 1, sizeof(*c->types));
	if (err)
		goto cleanup;
	err = idx_map__add(&c->type_map, type_hash(pid, type_idx), c->nr_types);
	if (err)
		goto cleanup;
	c->types[c->nr_types].pid = pid;
	c->types[c->nr_types].type_idx = type_idx;
	c->types[c->nr_types].kind = kind;
	c->types[c->nr_types].name = dup;
	c->nr_types++;
	return 0;

cleanup:
	free(dup);
	return err;
}

int correlator__set_type_name(struct correlator *c, uint32_t pid, uint32_t type_idx,
			      const char *name)
{
	if (!name)
		return -EINVAL;
	return correlator__set_type(c, pid, type_idx, name, 0);
}

int correlator__set_first_id(struct correlator *c, uint32_t pid, uint64_t first_id)
{
	struct proc_name *p = proc_find(c, pid);
	int err;

	if (!p) {
		err = correlator__set_process(c, pid, "?");
		if (err)
			return err;
		p = proc_find(c, pid);
	}
	p->first_id = first_id;
	return 0;
}

const char *correlator__type_name(const struct correlator *c, uint32_t pid, uint32_t type_idx)
{
	long idx;

	if (type_idx == AS_TYPE_UNKNOWN)
		return NULL;
	idx = type_find(c, pid, type_idx);
	return idx < 0 ? NULL : c->types[idx].name;
}

size_t correlator__nr_tasks(const struct correlator *c)
{
	return c->nr_tasks;
}

const struct as_task *correlator__task(const struct correlator *c, size_t idx)
{
	return idx < c->nr_tasks ? task_at(c, idx) : NULL;
}

const struct as_task *correlator__find(const struct correlator *c, uint32_t pid, uint64_t id)
{
	long idx = task_index(c, pid, id, task_hash(pid, id));

	return idx < 0 ? NULL : task_at(c, idx);
}

const struct correlator_stats *correlator__stats(const struct correlator *c)
{
	return &c->stats;
}

uint64_t correlator__max_ts(const struct correlator *c)
{
	return c->max_ts;
}
