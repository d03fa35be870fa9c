// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer records -> the timeline both exporters draw.
 *
 * Feeding only appends: polls and wakes go to flat arrays, tasks, threads
 * and types to indexed tables.  timeline__finish() does the rest on sorted
 * data, so the order the records arrived in does not matter:
 *
 *  1. polls sorted by (task, start), wakes by (task, time);
 *  2. per task: in-progress polls end; the close is the end of the first
 *     Ready poll, or of the poll a completion happened in, or the
 *     completion (never before a poll that started earlier); polls that
 *     started after the close are dropped, as the correlator does; a poll
 *     ends no later than the next one starts (the task goes idle inside
 *     raw::poll, before the return probe stamps the end); numbering;
 *  3. polls ordered by (thread, start, longest first) and clipped so that
 *     each nests in the one it started in;
 *  4. per task, the walk (task_walk) that decides, poll by poll, since when
 *     the task was runnable and which wake made it so: it links flows at
 *     finish and draws the life segments at export, with one definition.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "array.h"
#include "asyncscope.h"
#include "idx_map.h"
#include "io_stats.h"
#include "record.h"
#include "timeline.h"

_Static_assert(sizeof(struct tl_poll) == 32, "tl_poll size");
_Static_assert(sizeof(struct tl_wake) == 24, "tl_wake size");
_Static_assert(AS_EV__MAX <= sizeof(((struct timeline_stats *)0)->by_type) / sizeof(uint64_t),
	       "timeline_stats.by_type too small");

#define REC_POLL_FLAGS		(AS_POLL_READY | AS_POLL_CANCELLED | AS_POLL_NESTED)
/* private tl_poll flag: a poll reported running whose record came after all */
#define TL_POLL_DUP		(1u << 7)
/* "file:line:col": the file, two separators, two u32 and the NUL. */
#define LOC_BUF_SZ		(AS_LOC_FILE_MAX + 2 + 2 * 10 + 1)

struct tl_type {
	uint32_t pid;
	uint32_t type_idx;
	uint32_t kind;
	char *name;
};

struct timeline {
	struct tl_task *tasks;
	size_t nr_tasks, cap_tasks;
	struct idx_map task_map;

	struct tl_poll *polls;
	size_t nr_polls, cap_polls;
	uint32_t *thread_order;		/* after finish: poll indices in thread order */

	struct tl_wake *wakes;
	size_t nr_wakes, cap_wakes;

	struct io_stats *io;		/* borrowed: wake sources, socket resources */
	struct tl_sock *socks;
	size_t nr_socks, cap_socks;

	struct tl_thread *threads;
	size_t nr_threads, cap_threads;
	struct idx_map thread_map;

	struct tl_proc *procs;		/* a handful of pids: a linear scan will do */
	size_t nr_procs, cap_procs;

	struct tl_type *types;
	size_t nr_types, cap_types;
	struct idx_map type_map;

	char **locs;			/* interned spawn locations */
	size_t nr_locs, cap_locs;
	struct idx_map loc_map;

	struct timeline_stats stats;
	uint64_t min_ts, max_ts, end_ns;
	int64_t rt_offset;
	bool has_rt_offset;
	bool finished;
};

const char *tl_sock_op_name(uint16_t op)
{
	switch (op) {
	case AS_SOCK_RECV:	return "recv";
	case AS_SOCK_SEND:	return "send";
	case AS_SOCK_CONNECT:	return "connect";
	case AS_SOCK_ACCEPT:	return "accept";
	case AS_SOCK_CLOSE:	return "close";
	default:		return NULL;
	}
}

const char *tl_seg_state_name(enum tl_seg_state st)
{
	switch (st) {
	case TL_SEG_SCHEDULED:	return "scheduled";
	case TL_SEG_RUNNING:	return "running";
	case TL_SEG_IDLE:	return "idle";
	default:		return "?";
	}
}

const char *tl_task__kind_name(const struct tl_task *t)
{
	switch (t->kind) {
	case AS_TASK_ASYNC:	return "async";
	case AS_TASK_BLOCKING:	return "blocking";
	default:		return "?";
	}
}

const char *tl_task__origin(const struct tl_task *t)
{
	if (t->flags & TL_TASK_SPAWN_SEEN)
		return "spawned";
	return t->flags & TL_TASK_INFERRED ? "inferred" : "late";
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogate or beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A copy where control characters and invalid UTF-8 became '?': names end
 * up in protobuf strings and JSON, which both want valid UTF-8.
 */
static char *name_dup(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), i = 0, len;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	while (i < n) {
		len = utf8_len(s + i, n - i);
		if (!len || (len == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			out[i++] = '?';
			continue;
		}
		memcpy(out + i, s + i, len);
		i += len;
	}
	out[n] = '\0';
	return out;
}

/* --- tables: processes, threads, types, locations, tasks --- */

static struct tl_proc *proc_find(const struct timeline *tl, uint32_t pid)
{
	for (size_t i = 0; i < tl->nr_procs; i++)
		if (tl->procs[i].pid == pid)
			return &tl->procs[i];
	return NULL;
}

static int proc_get(struct timeline *tl, uint32_t pid, struct tl_proc **out)
{
	int err;

	*out = proc_find(tl, pid);
	if (*out)
		return 0;
	err = array__grow((void **)&tl->procs, &tl->cap_procs, tl->nr_procs + 1,
			  sizeof(*tl->procs));
	if (err)
		return err;
	*out = &tl->procs[tl->nr_procs++];
	**out = (struct tl_proc){ .pid = pid };
	return 0;
}

static uint64_t pair_hash(uint32_t a, uint64_t b)
{
	return idx_map__hash_u64(b ^ idx_map__hash_u64(a));
}

struct pair_key {
	uint32_t pid;
	uint64_t v;
};

static int thread_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct timeline *tl = ctx;
	const struct pair_key *k = key;

	return tl->threads[idx].pid == k->pid && tl->threads[idx].tid == k->v;
}

/* The index of thread (pid, tid), created if new. */
static int thread_get(struct timeline *tl, uint32_t pid, uint32_t tid, uint32_t *out)
{
	struct pair_key k = { .pid = pid, .v = tid };
	uint64_t hash = pair_hash(pid, tid);
	struct tl_proc *p;
	long idx;
	int err;

	idx = idx_map__find(&tl->thread_map, hash, thread_match, tl, &k);
	if (idx >= 0) {
		*out = idx;
		return 0;
	}
	if (tl->nr_threads >= TL_MAX_THREADS)
		return -E2BIG;
	err = proc_get(tl, pid, &p);
	if (err)
		return err;
	err = array__grow((void **)&tl->threads, &tl->cap_threads, tl->nr_threads + 1,
			  sizeof(*tl->threads));
	if (err)
		return err;
	err = idx_map__add(&tl->thread_map, hash, tl->nr_threads);
	if (err)
		return err;
	tl->threads[tl->nr_threads] = (struct tl_thread){ .pid = pid, .tid = tid };
	*out = tl->nr_threads++;
	return 0;
}

static int type_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct timeline *tl = ctx;
	const struct pair_key *k = key;

	return tl->types[idx].pid == k->pid && tl->types[idx].type_idx == k->v;
}

static struct tl_type *type_find(const struct timeline *tl, uint32_t pid, uint32_t type_idx)
{
	struct pair_key k = { .pid = pid, .v = type_idx };
	long idx;

	if (type_idx == AS_TYPE_UNKNOWN)
		return NULL;
	idx = idx_map__find(&tl->type_map, pair_hash(pid, type_idx), type_match, tl, &k);
	return idx < 0 ? NULL : &tl->types[idx];
}

static int loc_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct timeline *tl = ctx;

	return strcmp(tl->locs[idx], key) == 0;
}

/* Interns "file:line:col", bytes outside printable ASCII as '?' (as the correlator does). */
static int loc_intern(struct timeline *tl, const struct as_ev_spawn *e, const char **out)
{
	char buf[LOC_BUF_SZ], *dup;
	uint64_t hash;
	uint32_t i;
	long idx;
	int n, err;

	for (i = 0; i < e->file_len; i++) {
		unsigned char ch = e->file[i];

		buf[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	n = snprintf(buf + i, sizeof(buf) - i, ":%u:%u", e->line, e->col);
	hash = idx_map__hash_bytes(buf, i + n);
	idx = idx_map__find(&tl->loc_map, hash, loc_match, tl, buf);
	if (idx >= 0) {
		*out = tl->locs[idx];
		return 0;
	}
	err = array__grow((void **)&tl->locs, &tl->cap_locs, tl->nr_locs + 1, sizeof(*tl->locs));
	if (err)
		return err;
	dup = strdup(buf);
	if (!dup)
		return -ENOMEM;
	err = idx_map__add(&tl->loc_map, hash, tl->nr_locs);
	if (err) {
		free(dup);
		return err;
	}
	tl->locs[tl->nr_locs++] = dup;
	*out = dup;
	return 0;
}

static int task_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct timeline *tl = ctx;
	const struct pair_key *k = key;

	return tl->tasks[idx].pid == k->pid && tl->tasks[idx].id == k->v;
}

static long task_find(const struct timeline *tl, uint32_t pid, uint64_t id)
{
	struct pair_key k = { .pid = pid, .v = id };

	return idx_map__find(&tl->task_map, pair_hash(pid, id), task_match, tl, &k);
}

/*
 * The index of task (pid, id), created if new; its creation is the earliest
 * time any of its records carries, and it learns its type from any record.
 */
static int task_get(struct timeline *tl, uint32_t pid, uint64_t id, uint32_t type_idx,
		    uint64_t seen_ns, uint32_t *out)
{
	struct tl_task *t;
	struct tl_proc *p;
	long idx;
	int err;

	idx = task_find(tl, pid, id);
	if (idx < 0) {
		if (tl->nr_tasks >= UINT32_MAX - 1)
			return -E2BIG;
		err = proc_get(tl, pid, &p);
		if (err)
			return err;
		err = array__grow((void **)&tl->tasks, &tl->cap_tasks, tl->nr_tasks + 1,
				  sizeof(*tl->tasks));
		if (err)
			return err;
		err = idx_map__add(&tl->task_map, pair_hash(pid, id), tl->nr_tasks);
		if (err)
			return err;
		idx = tl->nr_tasks++;
		tl->tasks[idx] = (struct tl_task){
			.id = id, .pid = pid, .type_idx = AS_TYPE_UNKNOWN, .created_ns = seen_ns,
			.spawn_thread = TL_NONE,
		};
	}
	t = &tl->tasks[idx];
	if (seen_ns < t->created_ns)
		t->created_ns = seen_ns;
	if (t->type_idx == AS_TYPE_UNKNOWN)
		t->type_idx = type_idx;
	*out = idx;
	return 0;
}

/* --- feeding --- */

static int on_poll(struct timeline *tl, const struct as_ev_poll *e)
{
	uint32_t task, thread;
	struct tl_poll *p;
	int err;

	err = task_get(tl, e->h.pid, e->task_id, e->type_idx, e->start_ns, &task);
	if (!err)
		err = thread_get(tl, e->h.pid, e->h.tid, &thread);
	if (err)
		return err;
	if (tl->nr_polls >= UINT32_MAX - 1)
		return -E2BIG;
	err = array__grow((void **)&tl->polls, &tl->cap_polls, tl->nr_polls + 1,
			  sizeof(*tl->polls));
	if (err)
		return err;
	p = &tl->polls[tl->nr_polls++];
	*p = (struct tl_poll){
		.start_ns = e->start_ns, .end_ns = e->h.ts_ns, .task = task, .thread = thread,
		.flags = e->flags & REC_POLL_FLAGS,
	};
	if (e->flags & AS_POLL_CANCELLED)
		tl->tasks[task].flags |= TL_TASK_CANCELLED;
	return 0;
}

static int on_waker(struct timeline *tl, const struct as_ev_waker *e)
{
	uint32_t task, thread;
	struct tl_wake *w;
	int err, src;

	err = task_get(tl, e->h.pid, e->task_id, e->type_idx, e->h.ts_ns, &task);
	if (err || e->op == AS_WAKER_CLONE || e->op == AS_WAKER_DROP)
		return err;
	err = thread_get(tl, e->h.pid, e->h.tid, &thread);
	if (err)
		return err;
	if (tl->nr_wakes >= UINT32_MAX - 1)
		return -E2BIG;
	err = array__grow((void **)&tl->wakes, &tl->cap_wakes, tl->nr_wakes + 1,
			  sizeof(*tl->wakes));
	if (err)
		return err;
	w = &tl->wakes[tl->nr_wakes++];
	*w = (struct tl_wake){
		.ts_ns = e->h.ts_ns, .waker_id = e->cur_task_id, .task = task, .thread = thread,
		.flags = (e->op == AS_WAKE_BY_REF ? TL_WAKE_BY_REF : 0) |
			 (e->cur_task_id == e->task_id ? TL_WAKE_SELF : 0),
	};
	src = tl->io ? io_stats__last_wake_source(tl->io) : -1;
	if (src >= 0 && src < WAKE_SRC__NR)
		w->flags |= (uint32_t)(src + 1) << TL_WAKE_SRC_SHIFT;
	return 0;
}

int tl_wake__source(const struct tl_wake *w)
{
	return (int)((w->flags & TL_WAKE_SRC_MASK) >> TL_WAKE_SRC_SHIFT) - 1;
}

static int on_sock(struct timeline *tl, const struct as_ev_sock *e)
{
	long res = tl->io ? io_stats__last_resource(tl->io) : -1;
	uint32_t thread;
	int err;

	err = thread_get(tl, e->h.pid, e->h.tid, &thread);
	if (!err)
		err = array__grow((void **)&tl->socks, &tl->cap_socks, tl->nr_socks + 1,
				  sizeof(*tl->socks));
	if (err)
		return err;
	tl->socks[tl->nr_socks++] = (struct tl_sock){
		.ts_ns = e->h.ts_ns, .task_id = e->task_id, .ret = e->ret, .pid = e->h.pid,
		.task = TL_NONE, .thread = thread, .res = res >= 0 ? (uint32_t)res : TL_NONE,
		.fd = e->fd, .op = e->op,
	};
	return 0;
}

static int on_spawn(struct timeline *tl, const struct as_ev_spawn *e)
{
	uint32_t task, thread;
	struct tl_task *t;
	int err;

	err = task_get(tl, e->h.pid, e->task_id, e->type_idx, e->h.ts_ns, &task);
	if (!err)
		err = thread_get(tl, e->h.pid, e->h.tid, &thread);
	if (err)
		return err;
	t = &tl->tasks[task];
	if (t->flags & TL_TASK_SPAWN_SEEN) {
		tl->stats.duplicates++;
		return 0;
	}
	if (e->file_len) {
		err = loc_intern(tl, e, &t->location);
		if (err)
			return err;
	}
	t->flags |= TL_TASK_SPAWN_SEEN;
	t->spawn_ns = e->h.ts_ns;
	t->spawn_thread = thread;
	t->parent_id = e->parent_task_id;
	if (e->kind == AS_TASK_ASYNC || e->kind == AS_TASK_BLOCKING)
		t->kind = e->kind;
	if (e->type_idx != AS_TYPE_UNKNOWN)
		t->type_idx = e->type_idx;
	return 0;
}

static int on_task_event(struct timeline *tl, const struct as_ev_task *e)
{
	struct tl_task *t;
	uint32_t task;
	int err;

	err = task_get(tl, e->h.pid, e->task_id, e->type_idx, e->h.ts_ns, &task);
	if (err)
		return err;
	t = &tl->tasks[task];
	if (e->h.type == AS_EV_SHUTDOWN) {
		t->flags |= TL_TASK_SHUTDOWN;
	} else if (e->h.type == AS_EV_COMPLETE) {
		if (t->flags & TL_TASK_COMPLETED) {
			tl->stats.duplicates++;
			return 0;
		}
		t->flags |= TL_TASK_COMPLETED;
		if (e->flags & AS_TASK_IN_POLL)
			t->flags |= TL_TASK_COMPLETE_IN_POLL;
		t->complete_ns = e->h.ts_ns;
	}
	return 0;
}

static void note_times(struct timeline *tl, uint64_t first, uint64_t last)
{
	if (!tl->min_ts || first < tl->min_ts)
		tl->min_ts = first;
	if (last > tl->max_ts)
		tl->max_ts = last;
}

int timeline__feed(struct timeline *tl, const void *data, size_t size)
{
	union as_record rec;
	int err;

	if (tl->finished)
		return -EBUSY;
	if (tl->io) {
		err = io_stats__feed(tl->io, data, size);
		if (err == -ENOMEM)
			return err;
	}
	tl->stats.records++;
	if (record__copy(data, size, &rec) || record__validate(&rec))
		goto malformed;

	tl->stats.by_type[rec.h.type]++;
	switch (rec.h.type) {
	case AS_EV_POLL:
		note_times(tl, rec.poll.start_ns, rec.h.ts_ns);
		return on_poll(tl, &rec.poll);
	case AS_EV_WAKER:
		note_times(tl, rec.h.ts_ns, rec.h.ts_ns);
		return on_waker(tl, &rec.waker);
	case AS_EV_SPAWN:
		note_times(tl, rec.h.ts_ns, rec.h.ts_ns);
		return on_spawn(tl, &rec.spawn);
	case AS_EV_SOCK:
		note_times(tl, rec.h.ts_ns, rec.h.ts_ns);
		return on_sock(tl, &rec.sock);
	case AS_EV_SOCK_OP: {
		struct as_ev_sock e = { .h = rec.sock_op.h, .task_id = rec.sock_op.task_id,
					.ino = rec.sock_op.ino, .ret = rec.sock_op.ret,
					.fd = rec.sock_op.fd, .op = rec.sock_op.op };

		note_times(tl, rec.h.ts_ns, rec.h.ts_ns);
		return on_sock(tl, &e);
	}
	case AS_EV_RUNTIME:
		return 0;	/* read by io_stats only */
	default:
		note_times(tl, rec.h.ts_ns, rec.h.ts_ns);
		return on_task_event(tl, &rec.task);
	}

malformed:
	tl->stats.malformed++;
	return -EINVAL;
}

int timeline__poll_in_progress(struct timeline *tl, uint32_t pid, uint32_t tid,
			       uint64_t task_id, uint32_t type_idx, uint64_t start_ns)
{
	uint32_t task, thread;
	int err;

	if (tl->finished)
		return -EBUSY;
	if (!task_id || !start_ns)
		return -EINVAL;
	err = task_get(tl, pid, task_id, type_idx, start_ns, &task);
	if (!err)
		err = thread_get(tl, pid, tid, &thread);
	if (!err && tl->nr_polls >= UINT32_MAX - 1)
		err = -E2BIG;
	if (!err)
		err = array__grow((void **)&tl->polls, &tl->cap_polls, tl->nr_polls + 1,
				  sizeof(*tl->polls));
	if (err)
		return err;
	/* its end is decided at finish */
	tl->polls[tl->nr_polls++] = (struct tl_poll){
		.start_ns = start_ns, .end_ns = start_ns, .task = task, .thread = thread,
		.flags = TL_POLL_RUNNING,
	};
	note_times(tl, start_ns, start_ns);
	return 0;
}

/* --- metadata --- */

int timeline__set_process(struct timeline *tl, uint32_t pid, const char *name)
{
	struct tl_proc *p;
	char *dup;
	int err;

	if (!name)
		return -EINVAL;
	dup = name_dup(name);
	if (!dup)
		return -ENOMEM;
	err = proc_get(tl, pid, &p);
	if (err) {
		free(dup);
		return err;
	}
	free((char *)p->name);
	p->name = dup;
	return 0;
}

int timeline__set_thread(struct timeline *tl, uint32_t pid, uint32_t tid, const char *name)
{
	struct tl_thread *t;
	uint32_t idx;
	char *dup;
	int err;

	if (!name)
		return -EINVAL;
	dup = name_dup(name);
	if (!dup)
		return -ENOMEM;
	err = thread_get(tl, pid, tid, &idx);
	if (err) {
		free(dup);
		return err;
	}
	t = &tl->threads[idx];
	free((char *)t->name);
	t->name = dup;
	return 0;
}

int timeline__set_type(struct timeline *tl, uint32_t pid, uint32_t type_idx, const char *name,
		       uint32_t kind)
{
	struct tl_type *ty;
	char *dup = NULL;
	int err;

	if (type_idx == AS_TYPE_UNKNOWN)
		return -EINVAL;
	if (name) {
		dup = name_dup(name);
		if (!dup)
			return -ENOMEM;
	}
	ty = type_find(tl, pid, type_idx);
	if (!ty) {
		err = array__grow((void **)&tl->types, &tl->cap_types, tl->nr_types + 1,
				  sizeof(*tl->types));
		if (!err)
			err = idx_map__add(&tl->type_map, pair_hash(pid, type_idx), tl->nr_types);
		if (err) {
			free(dup);
			return err;
		}
		ty = &tl->types[tl->nr_types++];
		*ty = (struct tl_type){ .pid = pid, .type_idx = type_idx };
	}
	if (dup) {
		free(ty->name);
		ty->name = dup;
	}
	if (kind)
		ty->kind = kind;
	return 0;
}

int timeline__set_first_id(struct timeline *tl, uint32_t pid, uint64_t first_id)
{
	struct tl_proc *p;
	int err;

	err = proc_get(tl, pid, &p);
	if (err)
		return err;
	p->first_id = first_id;
	return 0;
}

void timeline__set_realtime_offset(struct timeline *tl, int64_t offset_ns)
{
	tl->rt_offset = offset_ns;
	tl->has_rt_offset = true;
}

/* --- finish --- */

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int poll_cmp_task(const void *a, const void *b, void *ctx)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct tl_poll *polls = ctx, *x = &polls[ia], *y = &polls[ib];

	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return cmp_u64(x->start_ns, y->start_ns);
	if (x->end_ns != y->end_ns)
		return cmp_u64(x->end_ns, y->end_ns);
	return ia < ib ? -1 : ia > ib;
}

static int wake_cmp_task(const void *a, const void *b, void *ctx)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct tl_wake *wakes = ctx, *x = &wakes[ia], *y = &wakes[ib];

	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	if (x->ts_ns != y->ts_ns)
		return cmp_u64(x->ts_ns, y->ts_ns);
	return ia < ib ? -1 : ia > ib;
}

#define SORT_MAX_ELEM		32

/*
 * Sorts n elements of size bytes in place, through an array of indices:
 * glibc's qsort() would allocate a copy of the whole array for its merge
 * sort, which for tens of millions of polls is the peak of the program;
 * indices cost 4 bytes per element (twice, inside qsort_r).  cmp compares
 * two indices, ctx being base.
 */
static int sort_indirect(void *base, size_t n, size_t size,
			 int (*cmp)(const void *, const void *, void *))
{
	char tmp[SORT_MAX_ELEM], *a = base;
	uint32_t *perm;
	size_t i, j, k;

	if (n < 2)
		return 0;
	perm = malloc(n * sizeof(*perm));
	if (!perm)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		perm[i] = i;
	qsort_r(perm, n, sizeof(*perm), cmp, base);
	/* position i takes element perm[i]: follow each cycle once, marking it done */
	for (i = 0; i < n; i++) {
		if (perm[i] == i)
			continue;
		memcpy(tmp, a + i * size, size);
		for (j = i; perm[j] != i; j = k) {
			k = perm[j];
			memcpy(a + j * size, a + k * size, size);
			perm[j] = j;
		}
		memcpy(a + j * size, tmp, size);
		perm[j] = j;
	}
	free(perm);
	return 0;
}

_Static_assert(sizeof(struct tl_poll) <= SORT_MAX_ELEM && sizeof(struct tl_wake) <= SORT_MAX_ELEM,
	       "sort_indirect buffer");

/* Thread order: by start, the longer (enclosing) first, the outer before the nested. */
static int poll_cmp_thread(const void *a, const void *b, void *ctx)
{
	const struct timeline *tl = ctx;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct tl_poll *x = &tl->polls[ia], *y = &tl->polls[ib];

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return cmp_u64(x->start_ns, y->start_ns);
	if (x->end_ns != y->end_ns)
		return cmp_u64(y->end_ns, x->end_ns);
	if ((x->flags & TL_POLL_NESTED) != (y->flags & TL_POLL_NESTED))
		return (x->flags & TL_POLL_NESTED) ? 1 : -1;
	return ia < ib ? -1 : ia > ib;
}

static void task_classify(struct timeline *tl, struct tl_task *t)
{
	const struct tl_proc *p = proc_find(tl, t->pid);
	const struct tl_type *ty;

	if (!(t->flags & TL_TASK_SPAWN_SEEN))
		t->flags |= p && p->first_id && t->id >= p->first_id ? TL_TASK_INFERRED
								     : TL_TASK_LATE;
	if (!t->kind) {
		ty = type_find(tl, t->pid, t->type_idx);
		if (ty)
			t->kind = ty->kind;
	}
}

/*
 * When the task closed, given its polls sorted by start; *closing is the
 * index of the poll that closed it (TL_NONE if none).  0 if still open.
 */
static uint64_t task_close_time(const struct tl_task *t, const struct tl_poll *p, size_t n,
				size_t *closing)
{
	uint64_t close = 0, c = t->complete_ns, cc = c;
	size_t i, at = TL_NONE;

	for (i = 0; i < n; i++) {
		if (p[i].flags & TL_POLL_READY) {
			close = p[i].end_ns;
			at = i;
			break;
		}
	}
	if (t->flags & TL_TASK_COMPLETED) {
		size_t cat = TL_NONE;

		if (t->flags & TL_TASK_COMPLETE_IN_POLL) {
			/* it ends with the poll it completed in */
			for (i = 0; i < n; i++) {
				if (p[i].end_ns >= c) {
					cc = p[i].end_ns;
					cat = i;
					break;
				}
			}
		} else {
			/* never before the end of a poll that started earlier */
			for (i = 0; i < n && p[i].start_ns <= c; i++)
				if (p[i].end_ns > cc)
					cc = p[i].end_ns;
		}
		if (!close || cc < close) {
			close = cc;
			at = cat;
		}
	}
	if (close && close < t->created_ns)
		close = t->created_ns;
	*closing = at;
	return close;
}

/* Whether the poll at i, reported running, also has a record (same start). */
static bool has_record_at(const struct tl_poll *p, size_t n, size_t i)
{
	return (i > 0 && p[i - 1].start_ns == p[i].start_ns &&
		!(p[i - 1].flags & TL_POLL_RUNNING)) ||
	       (i + 1 < n && p[i + 1].start_ns == p[i].start_ns &&
		!(p[i + 1].flags & TL_POLL_RUNNING));
}

/*
 * Polls reported running whose record came after all are dropped (the
 * record is kept), the others end at the completion or at the end.
 * Returns how many polls remain at p.
 */
static size_t end_running(struct timeline *tl, const struct tl_task *t, struct tl_poll *p,
			  size_t n)
{
	size_t i, m;

	for (i = 0; i < n; i++)
		if ((p[i].flags & TL_POLL_RUNNING) && has_record_at(p, n, i))
			p[i].flags |= TL_POLL_DUP;
	for (i = 0, m = 0; i < n; i++) {
		if (p[i].flags & TL_POLL_DUP)
			continue;
		p[m] = p[i];
		if (p[m].flags & TL_POLL_RUNNING) {
			p[m].end_ns = tl->end_ns;
			if ((t->flags & TL_TASK_COMPLETED) && t->complete_ns >= p[m].start_ns)
				p[m].end_ns = t->complete_ns;
		}
		m++;
	}
	return m;
}

/*
 * Step 2 for one task whose polls sit, sorted, at [src, src + n): settles
 * them and moves the kept ones to dst (<= src).  Returns how many were kept.
 */
static size_t task_settle(struct timeline *tl, struct tl_task *t, size_t src, size_t n, size_t dst)
{
	/* no polls at all: polls is NULL, and even NULL + 0 is undefined */
	struct tl_poll *p = tl->polls ? tl->polls + src : NULL;
	uint64_t close, limit;
	size_t i, kept = 0, closing;

	n = end_running(tl, t, p, n);
	close = task_close_time(t, p, n, &closing);
	if (close)
		t->flags |= TL_TASK_CLOSED;
	t->closed_ns = close ? close : tl->end_ns;

	for (i = 0; i < n; i++) {
		if (close && i != closing && p[i].start_ns >= close) {
			tl->stats.after_close++;
			continue;
		}
		tl->polls[dst + kept++] = p[i];
	}
	p = tl->polls ? tl->polls + dst : NULL;
	for (i = 0; i < kept; i++) {
		limit = i + 1 < kept ? p[i + 1].start_ns : t->closed_ns;
		if (p[i].end_ns > limit && limit >= p[i].start_ns) {
			p[i].end_ns = limit;
			p[i].flags |= TL_POLL_CLIPPED;
			tl->stats.clipped++;
		}
		p[i].poll_no = i + 1;
	}
	t->first_poll = dst;
	t->nr_polls = kept;
	return kept;
}

static void settle_tasks(struct timeline *tl)
{
	size_t r = 0, w = 0, n, i;

	for (i = 0; i < tl->nr_tasks; i++) {
		struct tl_task *t = &tl->tasks[i];

		task_classify(tl, t);
		for (n = 0; r + n < tl->nr_polls && tl->polls[r + n].task == i; n++)
			;
		w += task_settle(tl, t, r, n, w);
		r += n;
	}
	tl->nr_polls = w;

	for (r = 0, i = 0; i < tl->nr_tasks; i++) {
		struct tl_task *t = &tl->tasks[i];

		t->first_wake = r;
		while (r < tl->nr_wakes && tl->wakes[r].task == i)
			r++;
		t->nr_wakes = r - t->first_wake;
	}
}

/* Step 3: each poll ends inside the one it started in, on its thread. */
static int nest_threads(struct timeline *tl)
{
	uint64_t *stack = NULL;
	size_t depth = 0, cap = 0, k;
	uint32_t thread = TL_NONE;
	int err = 0;

	for (k = 0; k < tl->nr_polls; k++) {
		struct tl_poll *p = &tl->polls[tl->thread_order[k]];

		if (p->thread != thread) {
			thread = p->thread;
			depth = 0;
		}
		while (depth && stack[depth - 1] <= p->start_ns)
			depth--;
		if (depth && p->end_ns > stack[depth - 1]) {
			p->end_ns = stack[depth - 1];
			p->flags |= TL_POLL_CLIPPED;
			tl->stats.clipped++;
		}
		err = array__grow((void **)&stack, &cap, depth + 1, sizeof(*stack));
		if (err)
			goto cleanup;
		stack[depth++] = p->end_ns;
	}
cleanup:
	free(stack);
	return err;
}

/*
 * The walk over one task's polls.  fn(ctx, poll, ready, cause) is called
 * for each poll (timeline__poll() index), then once with poll TL_NONE for
 * the time after the last one up to the close: ready is since when the task
 * was runnable before it (0: not runnable), cause the wake that made it so
 * (index + 1, 0 for none or for its creation).
 *
 * Before the first poll a task is runnable from its creation; a task
 * without a spawn record is credited to the first wake, if any.  After a
 * poll it is runnable from that poll's end if woken during it, else from
 * the first wake after it.
 */
typedef int (*walk_fn)(void *ctx, uint32_t poll, uint64_t ready, uint32_t cause);

static int task_walk(const struct timeline *tl, const struct tl_task *t, walk_fn fn, void *ctx)
{
	size_t w = t->first_wake, wend = w + t->nr_wakes, i;
	bool first = true, spawned = t->flags & TL_TASK_SPAWN_SEEN;
	uint64_t ready = t->created_ns;
	uint32_t cause = 0, idx;
	int err;

	for (i = 0; i <= t->nr_polls; i++) {
		const struct tl_poll *p = i < t->nr_polls ? &tl->polls[t->first_poll + i] : NULL;
		uint64_t until = p ? p->start_ns : t->closed_ns;

		for (; w < wend && tl->wakes[w].ts_ns < until; w++) {
			if (!ready) {
				ready = tl->wakes[w].ts_ns;
				cause = w + 1;
			} else if (first && !spawned && !cause) {
				cause = w + 1;
			}
		}
		idx = p ? t->first_poll + i : TL_NONE;
		err = fn(ctx, idx, ready, cause);
		if (err || !p)
			return err;
		first = false;
		ready = 0;
		cause = 0;
		for (; w < wend && tl->wakes[w].ts_ns <= p->end_ns; w++) {
			if (!ready) {
				ready = p->end_ns;
				cause = w + 1;
			}
		}
	}
	return 0;
}

static int link_step(void *ctx, uint32_t poll, uint64_t ready, uint32_t cause)
{
	struct timeline *tl = ctx;

	(void)ready;
	if (poll == TL_NONE)
		return 0;
	tl->polls[poll].wake = cause;
	if (cause)
		tl->wakes[cause - 1].flags |= TL_WAKE_CAUSED;
	return 0;
}

int timeline__finish(struct timeline *tl, uint64_t end_ns)
{
	size_t i;
	int err;

	if (tl->finished)
		return -EBUSY;
	tl->end_ns = end_ns > tl->max_ts ? end_ns : tl->max_ts;

	err = sort_indirect(tl->polls, tl->nr_polls, sizeof(*tl->polls), poll_cmp_task);
	if (!err)
		err = sort_indirect(tl->wakes, tl->nr_wakes, sizeof(*tl->wakes), wake_cmp_task);
	if (err)
		return err;
	settle_tasks(tl);

	tl->thread_order = malloc((tl->nr_polls ? tl->nr_polls : 1) * sizeof(*tl->thread_order));
	if (!tl->thread_order)
		return -ENOMEM;
	for (i = 0; i < tl->nr_polls; i++)
		tl->thread_order[i] = i;
	qsort_r(tl->thread_order, tl->nr_polls, sizeof(*tl->thread_order), poll_cmp_thread, tl);
	err = nest_threads(tl);
	if (err)
		return err;

	for (i = 0; i < tl->nr_tasks; i++)
		task_walk(tl, &tl->tasks[i], link_step, tl);
	for (i = 0; i < tl->nr_socks; i++) {
		struct tl_sock *so = &tl->socks[i];
		long t = so->task_id ? task_find(tl, so->pid, so->task_id) : -1;

		so->task = t >= 0 ? (uint32_t)t : TL_NONE;
	}
	tl->finished = true;
	return 0;
}

/* --- segments --- */

struct seg_walk {
	const struct timeline *tl;
	const struct tl_task *t;
	tl_seg_fn fn;
	void *ctx;
	uint64_t from;		/* end of the last segment */
};

static int seg_emit(struct seg_walk *sw, uint64_t until, enum tl_seg_state st, uint32_t poll)
{
	struct tl_seg seg = { .start_ns = sw->from, .end_ns = until, .state = st, .poll = poll };

	if (until <= sw->from)
		return 0;
	sw->from = until;
	return sw->fn(sw->ctx, &seg);
}

static int seg_step(void *ctx, uint32_t poll, uint64_t ready, uint32_t cause)
{
	struct seg_walk *sw = ctx;
	const struct tl_poll *p = poll == TL_NONE ? NULL : &sw->tl->polls[poll];
	uint64_t until = p ? p->start_ns : sw->t->closed_ns;
	int err = 0;

	(void)cause;
	if (ready && ready < until) {
		err = seg_emit(sw, ready, TL_SEG_IDLE, TL_NONE);
		if (!err)
			err = seg_emit(sw, until, TL_SEG_SCHEDULED, TL_NONE);
	} else {
		err = seg_emit(sw, until, TL_SEG_IDLE, TL_NONE);
	}
	if (!err && p)
		err = seg_emit(sw, p->end_ns, TL_SEG_RUNNING, poll);
	return err;
}

int timeline__task_segments(const struct timeline *tl, size_t task_idx, tl_seg_fn fn, void *ctx)
{
	struct seg_walk sw;

	if (!tl->finished || task_idx >= tl->nr_tasks || !fn)
		return -EINVAL;
	sw = (struct seg_walk){
		.tl = tl, .t = &tl->tasks[task_idx], .fn = fn, .ctx = ctx,
		.from = tl->tasks[task_idx].created_ns,
	};
	return task_walk(tl, sw.t, seg_step, &sw);
}

/* --- life cycle and views --- */

struct timeline *timeline__new(void)
{
	struct timeline *tl = calloc(1, sizeof(*tl));

	if (!tl)
		return NULL;
	idx_map__init(&tl->task_map);
	idx_map__init(&tl->thread_map);
	idx_map__init(&tl->type_map);
	idx_map__init(&tl->loc_map);
	return tl;
}

void timeline__free(struct timeline *tl)
{
	size_t i;

	if (!tl)
		return;
	for (i = 0; i < tl->nr_threads; i++)
		free((char *)tl->threads[i].name);
	for (i = 0; i < tl->nr_procs; i++)
		free((char *)tl->procs[i].name);
	for (i = 0; i < tl->nr_types; i++)
		free(tl->types[i].name);
	for (i = 0; i < tl->nr_locs; i++)
		free(tl->locs[i]);
	free(tl->tasks);
	free(tl->polls);
	free(tl->thread_order);
	free(tl->wakes);
	free(tl->socks);
	free(tl->threads);
	free(tl->procs);
	free(tl->types);
	free(tl->locs);
	idx_map__release(&tl->task_map);
	idx_map__release(&tl->thread_map);
	idx_map__release(&tl->type_map);
	idx_map__release(&tl->loc_map);
	free(tl);
}

void timeline__set_io(struct timeline *tl, struct io_stats *io)
{
	tl->io = io;
}

const struct io_stats *timeline__io(const struct timeline *tl)
{
	return tl->io;
}

size_t timeline__nr_socks(const struct timeline *tl)
{
	return tl->nr_socks;
}

const struct tl_sock *timeline__sock(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_socks ? &tl->socks[idx] : NULL;
}

int timeline__is_finished(const struct timeline *tl)
{
	return tl->finished;
}

uint64_t timeline__start_ns(const struct timeline *tl)
{
	return tl->min_ts;
}

uint64_t timeline__end_ns(const struct timeline *tl)
{
	return tl->end_ns;
}

int timeline__realtime_offset(const struct timeline *tl, int64_t *offset_ns)
{
	if (!tl->has_rt_offset)
		return -ENOENT;
	*offset_ns = tl->rt_offset;
	return 0;
}

size_t timeline__nr_procs(const struct timeline *tl)
{
	return tl->nr_procs;
}

const struct tl_proc *timeline__proc(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_procs ? &tl->procs[idx] : NULL;
}

size_t timeline__nr_threads(const struct timeline *tl)
{
	return tl->nr_threads;
}

const struct tl_thread *timeline__thread(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_threads ? &tl->threads[idx] : NULL;
}

size_t timeline__nr_tasks(const struct timeline *tl)
{
	return tl->nr_tasks;
}

const struct tl_task *timeline__task(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_tasks ? &tl->tasks[idx] : NULL;
}

const struct tl_task *timeline__find_task(const struct timeline *tl, uint32_t pid, uint64_t id)
{
	long idx = task_find(tl, pid, id);

	return idx < 0 ? NULL : &tl->tasks[idx];
}

size_t timeline__nr_polls(const struct timeline *tl)
{
	return tl->nr_polls;
}

const struct tl_poll *timeline__poll(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_polls ? &tl->polls[idx] : NULL;
}

size_t timeline__poll_by_thread(const struct timeline *tl, size_t k)
{
	return tl->finished && k < tl->nr_polls ? tl->thread_order[k] : TL_NONE;
}

size_t timeline__nr_wakes(const struct timeline *tl)
{
	return tl->nr_wakes;
}

const struct tl_wake *timeline__wake(const struct timeline *tl, size_t idx)
{
	return idx < tl->nr_wakes ? &tl->wakes[idx] : NULL;
}

const char *timeline__type_name(const struct timeline *tl, uint32_t pid, uint32_t type_idx)
{
	const struct tl_type *ty = type_find(tl, pid, type_idx);

	return ty ? ty->name : NULL;
}

const char *timeline__task_name(const struct timeline *tl, const struct tl_task *t)
{
	return timeline__type_name(tl, t->pid, t->type_idx);
}

const struct timeline_stats *timeline__stats(const struct timeline *tl)
{
	return &tl->stats;
}
