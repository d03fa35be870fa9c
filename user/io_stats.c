// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Records -> per-task socket I/O, resources, waits and wake sources (see io_stats.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "array.h"
#include "asyncscope.h"
#include "correlator.h"
#include "idx_map.h"
#include "io_stats.h"
#include "record.h"

#define ERR_AGAIN	11
#define ERR_INPROGRESS	115
#define FAM_UNIX	1
#define FAM_INET	2
#define FAM_INET6	10
#define PROTO_TCP	6
#define PROTO_UDP	17

/* A socket a task waits on now, since its would-block result. */
struct io_armed {
	uint32_t res;
	uint64_t start_ns;
};

struct io_thread {
	uint32_t pid, tid;
	uint32_t phase;			/* enum as_rt_phase, 0: none since its last poll */
	uint64_t phase_ns;
	bool runtime;			/* polled an async task or started a phase */
};

struct io_stats {
	const struct correlator *corr;

	struct io_resource *res;
	size_t nr_res, cap_res;
	struct idx_map res_map;

	struct io_task **tasks;
	size_t nr_tasks, cap_tasks;
	struct idx_map task_map;

	struct io_thread *threads;
	size_t nr_threads, cap_threads;
	struct idx_map thread_map;

	struct io_wait *waits;		/* the waits kept (wait_add) */
	size_t nr_waits, cap_waits, max_waits;
	size_t max_tasks;

	int last_source;		/* of the last record fed if a wake, else -1 */
	long last_res;			/* of the last record fed if a socket's, else -1 */

	struct io_stats_counts counts;
};

const char *wake_source_name(enum wake_source src)
{
	static const char *const names[WAKE_SRC__NR] = {
		[WAKE_SRC_SELF] = "self",	  [WAKE_SRC_TASK] = "task",
		[WAKE_SRC_BLOCKING] = "blocking", [WAKE_SRC_IO] = "io",
		[WAKE_SRC_TIMER] = "timer",	  [WAKE_SRC_EXTERNAL] = "external",
		[WAKE_SRC_OTHER] = "other",
	};

	return (unsigned int)src < WAKE_SRC__NR ? names[src] : "?";
}

/* --- lookups ------------------------------------------------------------ */

struct res_key {
	uint32_t pid;
	uint64_t ino;
	uint64_t sk;
};

static uint64_t res_hash(uint32_t pid, uint64_t ino, uint64_t sk)
{
	return idx_map__hash_u64((ino ? ino : sk) ^ idx_map__hash_u64(pid));
}

/* The open resource with this identity: a closed socket's inode or address may come back. */
static int res_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct io_resource *r = &((const struct io_stats *)ctx)->res[idx];
	const struct res_key *k = key;

	if (r->pid != k->pid || r->closed_ns)
		return 0;
	return k->ino ? r->ino == k->ino : (!r->ino && r->sk == k->sk);
}

struct id_key {
	uint32_t pid;
	uint64_t id;
};

static int task_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct io_task *t = ((const struct io_stats *)ctx)->tasks[idx];
	const struct id_key *k = key;

	return t->pid == k->pid && t->id == k->id;
}

static int thread_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct io_thread *t = &((const struct io_stats *)ctx)->threads[idx];
	const struct id_key *k = key;

	return t->pid == k->pid && t->tid == k->id;
}

static uint64_t id_hash(uint32_t pid, uint64_t id)
{
	return idx_map__hash_u64(id ^ idx_map__hash_u64(pid));
}

static struct io_task *task_find(const struct io_stats *s, uint32_t pid, uint64_t id)
{
	struct id_key k = { .pid = pid, .id = id };
	long idx = idx_map__find(&s->task_map, id_hash(pid, id), task_match, s, &k);

	return idx < 0 ? NULL : s->tasks[idx];
}

static struct io_task *task_get(struct io_stats *s, uint32_t pid, uint64_t id)
{
	struct io_task *t = task_find(s, pid, id);

	if (t)
		return t;
	if (s->max_tasks && s->nr_tasks >= s->max_tasks) {
		s->counts.over_limit_records++;
		return NULL;
	}
	if (array__grow((void **)&s->tasks, &s->cap_tasks, s->nr_tasks + 1, sizeof(*s->tasks)))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (idx_map__add(&s->task_map, id_hash(pid, id), s->nr_tasks)) {
		free(t);
		return NULL;
	}
	t->pid = pid;
	t->id = id;
	t->pend_next_res = -1;
	t->last_op_res = -1;
	s->tasks[s->nr_tasks++] = t;
	return t;
}

/* Why task_get gave NULL: 0 past max_tasks (the record counts without its task), else -ENOMEM. */
static int task_err(const struct io_stats *s)
{
	return s->max_tasks && s->nr_tasks >= s->max_tasks ? 0 : -ENOMEM;
}

static struct io_thread *thread_get(struct io_stats *s, uint32_t pid, uint32_t tid)
{
	struct id_key k = { .pid = pid, .id = tid };
	long idx = idx_map__find(&s->thread_map, id_hash(pid, tid), thread_match, s, &k);
	struct io_thread *th;

	if (idx >= 0)
		return &s->threads[idx];
	if (array__grow((void **)&s->threads, &s->cap_threads, s->nr_threads + 1,
			sizeof(*s->threads)) ||
	    idx_map__add(&s->thread_map, id_hash(pid, tid), s->nr_threads))
		return NULL;
	th = &s->threads[s->nr_threads++];
	memset(th, 0, sizeof(*th));
	th->pid = pid;
	th->tid = tid;
	return th;
}

/* enum as_task_kind of a task, 0 if unknown: the correlator's, else what spawn records said. */
static uint32_t task_kind(const struct io_stats *s, uint32_t pid, uint64_t id)
{
	const struct as_task *ct;
	const struct io_task *t;

	if (s->corr) {
		ct = correlator__find(s->corr, pid, id);
		return ct ? ct->kind : 0;
	}
	t = task_find(s, pid, id);
	return t ? t->kind : 0;
}

/* --- resources ---------------------------------------------------------- */

static bool addr_set(const uint8_t *a)
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return true;
	return false;
}

/*
 * Addresses fill in as the socket binds and connects, and clear again as
 * it closes (the kernel releases the local port): keep what was known.
 */
static void res_update(struct io_resource *r, const struct as_ev_sock *e)
{
	if (e->fd >= 0)
		r->fd = e->fd;
	if (e->family)
		r->family = e->family;
	if (e->proto)
		r->proto = e->proto;
	if (e->type)
		r->type = e->type;
	if (e->lport)
		r->lport = e->lport;
	if (addr_set(e->laddr))
		memcpy(r->laddr, e->laddr, sizeof(r->laddr));
	if (e->rport)
		r->rport = e->rport;
	if (addr_set(e->raddr))
		memcpy(r->raddr, e->raddr, sizeof(r->raddr));
	if (e->h.ts_ns < r->first_ns)
		r->first_ns = e->h.ts_ns;
	if (e->h.ts_ns > r->last_ns)
		r->last_ns = e->h.ts_ns;
}

static long res_get(struct io_stats *s, const struct as_ev_sock *e)
{
	struct res_key k = { .pid = e->h.pid, .ino = e->ino, .sk = e->sk };
	uint64_t hash = res_hash(e->h.pid, e->ino, e->sk);
	long idx = idx_map__find(&s->res_map, hash, res_match, s, &k);
	struct io_resource *r;
	int err;

	if (idx < 0) {
		err = array__grow((void **)&s->res, &s->cap_res, s->nr_res + 1, sizeof(*s->res));
		if (!err)
			err = idx_map__add(&s->res_map, hash, s->nr_res);
		if (err)
			return err;
		idx = (long)s->nr_res++;
		r = &s->res[idx];
		memset(r, 0, sizeof(*r));
		r->pid = e->h.pid;
		r->fd = -1;
		r->sk = e->sk;
		r->ino = e->ino;
		r->first_ns = e->h.ts_ns;
		r->last_ns = e->h.ts_ns;
	}
	res_update(&s->res[idx], e);
	return idx;
}

static void res_add_task(struct io_resource *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->nr_tasks; i++)
		if (r->tasks[i] == id)
			return;
	if (r->nr_tasks < IO_RES_MAX_TASKS)
		r->tasks[r->nr_tasks++] = id;
	else
		r->more_tasks++;
}

/* --- waits -------------------------------------------------------------- */

static uint64_t wait_ns(const struct io_wait *w)
{
	return w->end_ns - w->start_ns;
}

/* Restores the min-heap (by duration) of the waits kept, from slot i down. */
static void heap_down(struct io_wait *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct io_wait tmp;

		if (l < n && wait_ns(&h[l]) < wait_ns(&h[m]))
			m = l;
		if (l + 1 < n && wait_ns(&h[l + 1]) < wait_ns(&h[m]))
			m = l + 1;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

/*
 * One wait (async op).  Every wait counts in the per-task and per-resource
 * stats; the list keeps max_waits of them, so memory stays bounded on a long
 * trace: in arrival order until full, then the longest ones (a min-heap
 * by duration, its root replaced by anything longer).
 */
static int wait_add(struct io_stats *s, const struct io_task *t, uint32_t kind, long res,
		    uint64_t start, uint64_t end)
{
	struct io_wait w = { .pid = t->pid, .kind = kind, .res = res, .task_id = t->id,
			     .start_ns = start, .end_ns = end };
	int err;

	s->counts.waits++;
	if (s->nr_waits < s->max_waits) {
		err = array__grow((void **)&s->waits, &s->cap_waits, s->nr_waits + 1,
				  sizeof(*s->waits));
		if (err)
			return err;
		s->waits[s->nr_waits++] = w;
		if (s->nr_waits == s->max_waits)
			for (size_t i = s->nr_waits / 2; i-- > 0;)
				heap_down(s->waits, s->nr_waits, i);
		return 0;
	}
	if (s->nr_waits && wait_ns(&w) > wait_ns(&s->waits[0])) {
		s->waits[0] = w;
		heap_down(s->waits, s->nr_waits, 0);
	}
	return 0;
}

static int task_res_note(struct io_task *t, uint32_t res, uint64_t ns)
{
	struct io_task_res *tr = NULL;
	int err;

	for (size_t i = 0; i < t->nr_res && !tr; i++)
		if (t->res[i].res == res)
			tr = &t->res[i];
	if (!tr && t->nr_res == IO_TASK_MAX_RES) {
		/* bounded: a new resource takes the place of the one waited on least */
		tr = &t->res[0];
		for (size_t i = 1; i < t->nr_res; i++)
			if (t->res[i].wait_ns < tr->wait_ns)
				tr = &t->res[i];
		if (tr->wait_ns > ns)
			return 0;
		memset(tr, 0, sizeof(*tr));
		tr->res = res;
	} else if (!tr) {
		err = array__grow((void **)&t->res, &t->cap_res, t->nr_res + 1, sizeof(*t->res));
		if (err)
			return err;
		tr = &t->res[t->nr_res++];
		memset(tr, 0, sizeof(*tr));
		tr->res = res;
	}
	tr->waits++;
	tr->wait_ns += ns;
	return 0;
}

/* t's would-block on res with a start in [from, to], -1 if none. */
static long armed_find(const struct io_task *t, uint32_t res, uint64_t from, uint64_t to)
{
	for (size_t i = 0; i < t->nr_armed; i++)
		if (t->armed[i].res == res && t->armed[i].start_ns >= from &&
		    t->armed[i].start_ns <= to)
			return (long)i;
	return -1;
}

static void disarm(struct io_task *t, long i)
{
	if (i >= 0)
		t->armed[i] = t->armed[--t->nr_armed];
}

/*
 * t's operation on res would block: it waits on res from now, unless it
 * already does.  Would-blocks before and after a pending wake are apart:
 * the earlier one is the wait that wake ends, the later a new one.
 */
static int arm(struct io_task *t, uint32_t res, uint64_t ts)
{
	bool woken = t->nr_pend && ts > t->pend[0].ns;
	int err;

	if (armed_find(t, res, woken ? t->pend[0].ns + 1 : 0, UINT64_MAX) >= 0)
		return 0;
	/* bounded: the oldest would-block gives way (its socket was left unresolved) */
	if (t->nr_armed == IO_TASK_MAX_ARMED) {
		size_t old = 0;

		for (size_t i = 1; i < t->nr_armed; i++)
			if (t->armed[i].start_ns < t->armed[old].start_ns)
				old = i;
		t->armed[old] = t->armed[--t->nr_armed];
	}
	err = array__grow((void **)&t->armed, &t->cap_armed, t->nr_armed + 1, sizeof(*t->armed));
	if (err)
		return err;
	t->armed[t->nr_armed].res = res;
	t->armed[t->nr_armed++].start_ns = ts;
	return 0;
}

/*
 * The resource of an I/O wait ending at end: the one socket whose operation
 * would block before it, else the first socket the task used after the wake,
 * else the last it used before; -1 if it never used one.
 */
static long io_wait_res(struct io_stats *s, struct io_task *t, uint64_t end, uint64_t *start)
{
	long res = -1, i = -1;
	size_t before = 0;

	for (size_t j = 0; j < t->nr_armed; j++) {
		if (t->armed[j].start_ns <= end) {
			before++;
			i = (long)j;
		}
	}
	if (before == 1) {
		res = t->armed[i].res;
		s->counts.io_waits_armed++;
	} else if (t->pend_next_res >= 0) {
		res = t->pend_next_res;
		i = armed_find(t, (uint32_t)res, 0, end);
		s->counts.io_waits_next_op++;
	} else if (t->last_op_res >= 0) {
		res = t->last_op_res;
		i = armed_find(t, (uint32_t)res, 0, end);
		s->counts.io_waits_last_op++;
	} else {
		s->counts.io_waits_unknown++;
	}
	/* a wait the task announced with a would-block result began there */
	if (i >= 0) {
		if (t->armed[i].start_ns < *start)
			*start = t->armed[i].start_ns;
		disarm(t, i);
	}
	return res;
}

/* The wait the wake at end (from src) ended, now that the poll it resumed is known. */
static int wait_end(struct io_stats *s, struct io_task *t, uint64_t end, uint32_t src)
{
	uint64_t start = t->last_poll_end_ns, ns;
	long res = -1;
	uint32_t kind;
	int err = 0;

	if (src == WAKE_SRC_IO) {
		kind = IO_WAIT_IO;
		res = io_wait_res(s, t, end, &start);
	} else if (src == WAKE_SRC_TIMER) {
		kind = IO_WAIT_TIMER;
	} else {
		return 0;
	}
	if (!start || start > end)
		return 0;	/* its previous poll is unknown: no start */
	ns = end - start;
	if (kind == IO_WAIT_TIMER) {
		t->timer_waits++;
		t->timer_wait_ns += ns;
		if (ns > t->timer_wait_max_ns)
			t->timer_wait_max_ns = ns;
		return wait_add(s, t, kind, -1, start, end);
	}
	t->io_waits++;
	t->io_wait_ns += ns;
	if (ns > t->io_wait_max_ns)
		t->io_wait_max_ns = ns;
	if (res >= 0) {
		struct io_resource *r = &s->res[res];

		r->waits++;
		r->wait_ns += ns;
		if (ns > r->wait_max_ns)
			r->wait_max_ns = ns;
		err = task_res_note(t, (uint32_t)res, ns);
	}
	return err ?: wait_add(s, t, kind, res, start, end);
}

/* --- records ------------------------------------------------------------ */

/* t operated on resource res at ts: what waits it ends or announces. */
static int task_op(struct io_task *t, long res, uint64_t ts, bool would_block, bool ok)
{
	bool woken = t->nr_pend && ts > t->pend[0].ns;

	if (woken && t->pend_next_res < 0)
		t->pend_next_res = res;
	t->last_op_res = res;
	if (would_block)
		return arm(t, (uint32_t)res, ts);
	/*
	 * Success: a would-block on res since the pending wake (or since the
	 * last poll, without one) was retried at once: no wait.  One before
	 * the pending wake is that wake's to end (wait_end).
	 */
	if (ok)
		disarm(t, armed_find(t, (uint32_t)res, woken ? t->pend[0].ns + 1 : 0, UINT64_MAX));
	return 0;
}

static int on_sock(struct io_stats *s, const struct as_ev_sock *e)
{
	bool in = e->op == AS_SOCK_RECV || e->op == AS_SOCK_ACCEPT, would_block;
	struct io_task *t = NULL;
	struct io_resource *r;
	long idx;

	s->counts.sock_records++;
	idx = res_get(s, e);
	if (idx < 0)
		return (int)idx;
	s->last_res = idx;
	r = &s->res[idx];
	if (e->task_id) {
		t = task_get(s, e->h.pid, e->task_id);
		if (!t && task_err(s))
			return -ENOMEM;
		if (t)
			t->seen_io = true;
		res_add_task(r, e->task_id);
	}
	would_block = e->ret == -ERR_AGAIN || (e->op == AS_SOCK_CONNECT && e->ret == -ERR_INPROGRESS);
	if (would_block) {
		r->would_block++;
		if (t && in)
			t->would_block_in++;
		else if (t)
			t->would_block_out++;
	} else if (e->ret < 0 && t) {
		t->errors++;
	}

	switch (e->op) {
	case AS_SOCK_RECV:
	case AS_SOCK_SEND:
		if (e->ret < 0)
			break;
		if (in) {
			r->ops_in++;
			r->bytes_in += (uint64_t)e->ret;
		} else {
			r->ops_out++;
			r->bytes_out += (uint64_t)e->ret;
		}
		if (t && in) {
			t->ops_in++;
			t->bytes_in += (uint64_t)e->ret;
		} else if (t) {
			t->ops_out++;
			t->bytes_out += (uint64_t)e->ret;
		}
		break;
	case AS_SOCK_CONNECT:
		r->connects++;
		if (t)
			t->connects++;
		break;
	case AS_SOCK_ACCEPT:
		/* the record is the listener's; ret is the new connection's fd */
		if (e->ret >= 0) {
			r->accepts++;
			if (t)
				t->accepts++;
		}
		break;
	case AS_SOCK_CLOSE:
		r->closed_ns = e->h.ts_ns;
		if (t)
			t->closes++;
		return 0;
	default:
		return 0;
	}
	return t ? task_op(t, idx, e->h.ts_ns, would_block, e->ret >= 0) : 0;
}

/* A short record: a full one without addresses (zero: what is known stays). */
static int on_sock_op(struct io_stats *s, const struct as_ev_sock_op *o)
{
	struct as_ev_sock e = { .h = o->h, .task_id = o->task_id, .ino = o->ino, .ret = o->ret,
				.fd = o->fd, .op = o->op };

	return on_sock(s, &e);
}

static int on_runtime(struct io_stats *s, const struct as_ev_runtime *e)
{
	struct io_thread *th;

	s->counts.runtime_records++;
	if (e->phase < sizeof(s->counts.phases) / sizeof(s->counts.phases[0]))
		s->counts.phases[e->phase]++;
	th = thread_get(s, e->h.pid, e->h.tid);
	if (!th)
		return -ENOMEM;
	th->phase = e->phase;
	th->phase_ns = e->h.ts_ns;
	th->runtime = true;
	return 0;
}

/*
 * A poll [s, e] of the task: the first wake since its previous poll, when
 * it came before s, ended a wait; one inside [s, e] woke it while it ran
 * (no wait); a later one waits for the next poll.
 */
static int on_poll(struct io_stats *s, const struct as_ev_poll *e)
{
	uint32_t kind = task_kind(s, e->h.pid, e->task_id);
	struct io_thread *th = thread_get(s, e->h.pid, e->h.tid);
	struct io_task *t = task_get(s, e->h.pid, e->task_id);
	int err = 0;

	if (!th || (!t && task_err(s)))
		return -ENOMEM;
	/* a poll began after the phase: the thread's later wakes are not the phase's */
	if (e->start_ns >= th->phase_ns)
		th->phase = 0;
	if (kind != AS_TASK_BLOCKING)
		th->runtime = true;
	if (!t)
		return 0;
	/* records of one task's polls may arrive out of order across threads: the lifecycle moved on */
	if (e->start_ns < t->last_poll_start_ns)
		return 0;
	if (t->nr_pend && t->pend[0].ns < e->start_ns)
		err = wait_end(s, t, t->pend[0].ns, t->pend[0].src);
	else if (t->nr_pend && t->pend[0].ns <= e->h.ts_ns)
		s->counts.woken_in_poll++;
	/* the wakes up to its end are spent; later ones resume a later poll */
	while (t->nr_pend && t->pend[0].ns <= e->h.ts_ns) {
		memmove(&t->pend[0], &t->pend[1], --t->nr_pend * sizeof(t->pend[0]));
		t->pend_next_res = -1;
	}
	t->last_poll_start_ns = e->start_ns;
	t->last_poll_end_ns = e->h.ts_ns;
	t->last_poll_tid = e->h.tid;
	return err;
}

static enum wake_source classify(struct io_stats *s, const struct as_ev_waker *e)
{
	const struct io_thread *th;
	const struct io_task *t;
	struct id_key k = { .pid = e->h.pid, .id = e->h.tid };
	long idx;

	if (e->cur_task_id == e->task_id)
		return WAKE_SRC_SELF;
	if (e->cur_task_id) {
		return task_kind(s, e->h.pid, e->cur_task_id) == AS_TASK_BLOCKING ? WAKE_SRC_BLOCKING
										 : WAKE_SRC_TASK;
	}
	idx = idx_map__find(&s->thread_map, id_hash(e->h.pid, e->h.tid), thread_match, s, &k);
	th = idx < 0 ? NULL : &s->threads[idx];
	if (!th)
		return WAKE_SRC_EXTERNAL;
	switch (th->phase) {
	case AS_RT_IO_EVENTS:
		return WAKE_SRC_IO;
	case AS_RT_TIMERS:
		return WAKE_SRC_TIMER;
	default:
		/*
		 * The drivers are done (or were not run) and no poll began:
		 * what a worker wakes now is the tasks that yielded on it
		 * (tokio defers their wakes to the thread's next park).
		 */
		if (!th->runtime)
			return WAKE_SRC_EXTERNAL;
		t = task_find(s, e->h.pid, e->task_id);
		return t && t->last_poll_tid == e->h.tid ? WAKE_SRC_SELF : WAKE_SRC_OTHER;
	}
}

static void note_waker(struct io_task *t, uint64_t waker)
{
	uint32_t i;

	for (i = 0; i < t->nr_wakers; i++) {
		if (t->wakers[i].task_id == waker) {
			t->wakers[i].wakes++;
			/* keep the list sorted, most wakes first */
			for (; i > 0 && t->wakers[i].wakes > t->wakers[i - 1].wakes; i--) {
				struct io_waker tmp = t->wakers[i];

				t->wakers[i] = t->wakers[i - 1];
				t->wakers[i - 1] = tmp;
			}
			return;
		}
	}
	if (t->nr_wakers < IO_TASK_MAX_WAKERS) {
		t->wakers[t->nr_wakers].task_id = waker;
		t->wakers[t->nr_wakers++].wakes = 1;
	}
}

static void pend_add(struct io_task *t, uint64_t ns, uint32_t src)
{
	uint32_t i = t->nr_pend;

	if (i == IO_TASK_PEND) {
		if (ns >= t->pend[i - 1].ns)
			return;
		i--;
	} else {
		t->nr_pend++;
	}
	for (; i > 0 && t->pend[i - 1].ns > ns; i--)
		t->pend[i] = t->pend[i - 1];
	if (i == 0)
		t->pend_next_res = -1;
	t->pend[i].ns = ns;
	t->pend[i].src = src;
}

static int on_waker(struct io_stats *s, const struct as_ev_waker *e)
{
	enum wake_source src;
	struct io_task *t;

	if (e->op != AS_WAKE_BY_VAL && e->op != AS_WAKE_BY_REF)
		return 0;
	src = classify(s, e);
	s->last_source = src;
	s->counts.wakes[src]++;
	t = task_get(s, e->h.pid, e->task_id);
	if (!t)
		return task_err(s);
	t->wakes[src]++;
	if (src == WAKE_SRC_TASK || src == WAKE_SRC_BLOCKING)
		note_waker(t, e->cur_task_id);
	/*
	 * The first wake after a poll resumes the task; which poll it resumes
	 * is known when that poll's record comes (on_poll).  Kept in time
	 * order, the earliest ones.
	 */
	if (e->h.ts_ns > t->last_poll_end_ns)
		pend_add(t, e->h.ts_ns, src);
	return 0;
}

/* Without a correlator, spawn records tell blocking tasks (and their wakes) apart. */
static int on_spawn(struct io_stats *s, const struct as_ev_spawn *e)
{
	struct io_task *t;

	if (s->corr)
		return 0;
	t = task_get(s, e->h.pid, e->task_id);
	if (!t)
		return task_err(s);
	t->kind = e->kind;
	return 0;
}

int io_stats__feed(struct io_stats *s, const void *data, size_t size)
{
	union as_record rec;

	if (!data || size < sizeof(rec.h))
		goto malformed;
	memcpy(&rec.h, data, sizeof(rec.h));
	s->last_source = -1;
	s->last_res = -1;
	switch (rec.h.type) {
	case AS_EV_SOCK:
	case AS_EV_SOCK_OP:
	case AS_EV_RUNTIME:
	case AS_EV_POLL:
	case AS_EV_WAKER:
	case AS_EV_SPAWN:
		break;
	default:
		return 0;
	}
	if (record__copy(data, size, &rec) || !rec.h.ts_ns)
		goto malformed;
	switch (rec.h.type) {
	case AS_EV_SOCK_OP:
		if ((rec.sock_op.op != AS_SOCK_RECV && rec.sock_op.op != AS_SOCK_SEND) ||
		    !rec.sock_op.ino)
			goto malformed;
		return on_sock_op(s, &rec.sock_op);
	case AS_EV_SOCK:
		if (rec.sock.op < AS_SOCK_RECV || rec.sock.op > AS_SOCK_CLOSE)
			goto malformed;
		return on_sock(s, &rec.sock);
	case AS_EV_RUNTIME:
		return on_runtime(s, &rec.rt);
	case AS_EV_POLL:
		return rec.poll.task_id ? on_poll(s, &rec.poll) : 0;
	case AS_EV_SPAWN:
		return rec.spawn.task_id ? on_spawn(s, &rec.spawn) : 0;
	default:
		return rec.waker.task_id ? on_waker(s, &rec.waker) : 0;
	}

malformed:
	s->counts.malformed++;
	return -EINVAL;
}

/* --- queries ------------------------------------------------------------ */

bool io_stats__empty(const struct io_stats *s)
{
	return !s || (!s->counts.sock_records && !s->counts.runtime_records);
}

size_t io_stats__nr_resources(const struct io_stats *s)
{
	return s->nr_res;
}

const struct io_resource *io_stats__resource(const struct io_stats *s, size_t idx)
{
	return idx < s->nr_res ? &s->res[idx] : NULL;
}

size_t io_stats__nr_waits(const struct io_stats *s)
{
	return s->nr_waits;
}

const struct io_wait *io_stats__wait(const struct io_stats *s, size_t idx)
{
	return idx < s->nr_waits ? &s->waits[idx] : NULL;
}

const struct io_task *io_stats__task(const struct io_stats *s, uint32_t pid, uint64_t id)
{
	return task_find(s, pid, id);
}

size_t io_stats__nr_tasks(const struct io_stats *s)
{
	return s->nr_tasks;
}

const struct io_task *io_stats__task_at(const struct io_stats *s, size_t idx)
{
	return idx < s->nr_tasks ? s->tasks[idx] : NULL;
}

const struct io_stats_counts *io_stats__counts(const struct io_stats *s)
{
	return &s->counts;
}

int io_stats__last_wake_source(const struct io_stats *s)
{
	return s->last_source;
}

long io_stats__last_resource(const struct io_stats *s)
{
	return s->last_res;
}

long io_task__top_resource(const struct io_task *t)
{
	long best = -1;
	uint64_t ns = 0;

	for (size_t i = 0; i < t->nr_res; i++) {
		if (best < 0 || t->res[i].wait_ns > ns) {
			best = t->res[i].res;
			ns = t->res[i].wait_ns;
		}
	}
	return best;
}

const char *io_resource__proto_name(const struct io_resource *r)
{
	bool v6 = r->family == FAM_INET6;

	if (r->family == FAM_UNIX)
		return "unix";
	if (r->family != FAM_INET && !v6)
		return "socket";
	switch (r->proto) {
	case PROTO_TCP:	return v6 ? "tcp6" : "tcp";
	case PROTO_UDP:	return v6 ? "udp6" : "udp";
	default:	return v6 ? "ip6" : "ip";
	}
}

char *io_resource__fmt_addr(const struct io_resource *r, bool peer, char *buf, size_t size)
{
	const uint8_t *a = peer ? r->raddr : r->laddr;
	uint16_t port = peer ? r->rport : r->lport;
	char ip[INET6_ADDRSTRLEN];

	if ((r->family != FAM_INET && r->family != FAM_INET6) || (!port && !addr_set(a))) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (!inet_ntop(r->family == FAM_INET ? AF_INET : AF_INET6, a, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, size, r->family == FAM_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	return buf;
}

/* --- lifecycle ---------------------------------------------------------- */

struct io_stats *io_stats__new(const struct io_stats_opts *opts)
{
	struct io_stats *s;

	if (opts && opts->sz < sizeof(size_t)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (opts && opts->sz >= offsetof(struct io_stats_opts, corr) + sizeof(opts->corr))
		s->corr = opts->corr;
	s->max_waits = IO_STATS_MAX_WAITS;
	if (opts && opts->sz >= offsetof(struct io_stats_opts, max_waits) + sizeof(opts->max_waits) &&
	    opts->max_waits)
		s->max_waits = opts->max_waits;
	if (opts && opts->sz >= offsetof(struct io_stats_opts, max_tasks) + sizeof(opts->max_tasks))
		s->max_tasks = opts->max_tasks;
	s->last_source = -1;
	s->last_res = -1;
	idx_map__init(&s->res_map);
	idx_map__init(&s->task_map);
	idx_map__init(&s->thread_map);
	return s;
}

void io_stats__free(struct io_stats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr_tasks; i++) {
		free(s->tasks[i]->res);
		free(s->tasks[i]->armed);
		free(s->tasks[i]);
	}
	free(s->tasks);
	free(s->res);
	free(s->threads);
	free(s->waits);
	idx_map__release(&s->res_map);
	idx_map__release(&s->task_map);
	idx_map__release(&s->thread_map);
	free(s);
}
