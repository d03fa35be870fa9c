// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "json_writer.h"
#include "log.h"
#include "out_io.h"
#include "out_json.h"

/* A kernel counter, or null when there are no counters. */
static void kv_cnt(struct json_writer *w, const char *key, const uint64_t *k, int idx)
{
	json_writer__kv_u64_opt(w, key, k ? k[idx] : 0, k != NULL);
}

static const char *const ev_keys[AS_EV__MAX] = {
	[AS_EV_POLL]		= "poll",
	[AS_EV_WAKER]		= "waker",
	[AS_EV_SPAWN]		= "spawn",
	[AS_EV_COMPLETE]	= "complete",
	[AS_EV_SHUTDOWN]	= "shutdown",
	[AS_EV_SCHEDULE]	= "schedule",
	[AS_EV_SOCK]		= "sock",
	[AS_EV_RUNTIME]		= "runtime",
	[AS_EV_SOCK_OP]		= "sock_op",
};

/* kind 0 (unknown), 1 (async), 2 (blocking) */
struct kind_counts {
	uint64_t n[3];
};

static unsigned int kind_slot(uint32_t kind)
{
	return kind == AS_TASK_ASYNC || kind == AS_TASK_BLOCKING ? kind : 0;
}

static void kinds_obj(struct json_writer *w, const char *key, const struct kind_counts *k,
		      bool with_unknown)
{
	json_writer__key(w, key);
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "async", k->n[AS_TASK_ASYNC]);
	json_writer__kv_u64(w, "blocking", k->n[AS_TASK_BLOCKING]);
	if (with_unknown)
		json_writer__kv_u64(w, "unknown", k->n[0]);
	json_writer__end_object(w);
}

static void write_events(struct json_writer *w, const struct correlator_stats *st,
			 const struct report_meta *m)
{
	const uint64_t *k = m->counters;
	int i;

	json_writer__key(w, "events");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "received", m->received);
	json_writer__key(w, "by_type");
	json_writer__begin_object(w);
	for (i = AS_EV_POLL; i < AS_EV__MAX; i++)
		json_writer__kv_u64(w, ev_keys[i], st->by_type[i]);
	json_writer__end_object(w);
	json_writer__kv_u64(w, "reordered", st->reordered);
	kv_cnt(w, "emitted", k, AS_CNT_EMITTED);
	kv_cnt(w, "dropped", k, AS_CNT_DROPPED);
	json_writer__key(w, "dropped_by_type");
	if (k) {
		json_writer__begin_object(w);
		for (i = AS_EV_POLL; i < AS_EV__MAX; i++)
			json_writer__kv_u64(w, ev_keys[i], k[AS_CNT_DROP_BASE + i]);
		json_writer__end_object(w);
	} else {
		json_writer__null(w);
	}
	json_writer__end_object(w);
}

static void write_kernel(struct json_writer *w, const uint64_t *k)
{
	json_writer__key(w, "kernel");
	if (!k) {
		json_writer__null(w);
		return;
	}
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "polls", k[AS_CNT_POLL]);
	json_writer__kv_u64(w, "wake_by_val", k[AS_CNT_WAKE_BY_VAL]);
	json_writer__kv_u64(w, "wake_by_ref", k[AS_CNT_WAKE_BY_REF]);
	json_writer__kv_u64(w, "waker_clone", k[AS_CNT_WAKER_CLONE]);
	json_writer__kv_u64(w, "waker_drop", k[AS_CNT_WAKER_DROP]);
	json_writer__kv_u64(w, "waker_folded", k[AS_CNT_WAKER_FOLDED]);
	json_writer__kv_u64(w, "spawn", k[AS_CNT_SPAWN]);
	json_writer__kv_u64(w, "spawn_blocking", k[AS_CNT_SPAWN_BLOCKING]);
	json_writer__kv_u64(w, "complete", k[AS_CNT_COMPLETE]);
	json_writer__kv_u64(w, "shutdown", k[AS_CNT_SHUTDOWN]);
	json_writer__kv_u64(w, "schedule", k[AS_CNT_SCHEDULE]);
	json_writer__end_object(w);
}

static void write_anomalies(struct json_writer *w, const struct correlator_stats *st,
			    const uint64_t *k)
{
	json_writer__key(w, "anomalies");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "malformed", st->malformed);
	json_writer__kv_u64(w, "duplicates", st->duplicates);
	json_writer__kv_u64(w, "after_close", st->after_close);
	json_writer__kv_u64(w, "late_tasks", st->late_tasks);
	kv_cnt(w, "unknown_vtable", k, AS_CNT_UNKNOWN_VTABLE);
	kv_cnt(w, "read_fault", k, AS_CNT_READ_FAULT);
	kv_cnt(w, "poll_orphan_ret", k, AS_CNT_POLL_ORPHAN_RET);
	kv_cnt(w, "poll_stale", k, AS_CNT_POLL_STALE);
	kv_cnt(w, "poll_too_deep", k, AS_CNT_POLL_TOO_DEEP);
	json_writer__end_object(w);
}

static void write_summary(struct json_writer *w, const struct correlator *c,
			  const struct report_meta *m, const struct as_task *const *tasks,
			  size_t n)
{
	const struct correlator_stats *st = correlator__stats(c);
	struct kind_counts by_kind = { 0 }, spawned = { 0 }, completed = { 0 };
	uint64_t polls = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct as_task *t = tasks[i];
		unsigned int k = kind_slot(t->kind);

		by_kind.n[k]++;
		/* spawned while traced: its spawn seen, or its id says so */
		if (t->flags & (TASK_F_SPAWN_SEEN | TASK_F_SPAWN_INFERRED))
			spawned.n[k]++;
		/* Finished either way: Harness::complete, or a poll that returned Ready. */
		if (t->closed_ns)
			completed.n[k]++;
		polls += t->polls;
	}

	json_writer__key(w, "summary");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "tasks", n);
	kinds_obj(w, "by_kind", &by_kind, true);
	kinds_obj(w, "spawned", &spawned, false);
	kinds_obj(w, "completed", &completed, true);
	json_writer__kv_u64(w, "polls", polls);
	write_events(w, st, m);
	write_kernel(w, m->counters);
	write_anomalies(w, st, m->counters);
	json_writer__end_object(w);
}

static const struct {
	uint32_t flag;
	const char *name;
} flag_names[] = {
	{ TASK_F_SPAWN_SEEN,	"spawn_seen" },
	{ TASK_F_LATE,		"late" },
	{ TASK_F_COMPLETED,	"completed" },
	{ TASK_F_CANCELLED,	"cancelled" },
	{ TASK_F_SHUTDOWN,	"shutdown" },
	{ TASK_F_IN_POLL,	"in_poll" },
	{ TASK_F_SPAWN_INFERRED, "spawn_inferred" },
};

static void write_task(struct json_writer *w, const struct correlator *c,
		       const struct as_task *t, uint64_t now, const struct io_stats *io)
{
	struct task_times tm;
	size_t i;

	as_task__times(t, now, &tm);
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "pid", t->pid);
	json_writer__kv_u64(w, "id", t->id);
	json_writer__kv_str(w, "kind", report__kind_name(t->kind));
	json_writer__kv_str(w, "state", task_state_name(tm.state));
	json_writer__kv_str(w, "name", correlator__type_name(c, t->pid, t->type_idx));
	json_writer__kv_str(w, "location", t->location);
	json_writer__kv_u64_opt(w, "parent_id", t->parent_id, t->parent_id);
	json_writer__kv_u64(w, "created_ns", t->created_ns);
	json_writer__kv_u64_opt(w, "closed_ns", t->closed_ns, t->closed_ns);
	json_writer__kv_u64(w, "total_ns", tm.total_ns);
	json_writer__kv_u64(w, "busy_ns", tm.busy_ns);
	json_writer__kv_u64(w, "sched_ns", tm.sched_ns);
	json_writer__kv_u64(w, "idle_ns", tm.idle_ns);
	json_writer__kv_u64(w, "polls", t->polls);
	json_writer__kv_u64(w, "wakes", t->wakes);
	json_writer__kv_u64(w, "self_wakes", t->self_wakes);
	json_writer__kv_u64(w, "waker_clones", t->waker_clones);
	json_writer__kv_u64(w, "waker_drops", t->waker_drops);
	json_writer__kv_u64(w, "schedules", t->schedules);
	json_writer__key(w, "flags");
	json_writer__begin_array(w);
	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (t->flags & flag_names[i].flag)
			json_writer__string(w, flag_names[i].name);
	json_writer__end_array(w);
	if (io)
		out_io__json_task(w, io, t);
	json_writer__end_object(w);
}

int out_json__write(FILE *out, const struct correlator *c, const struct report_meta *m,
		    bool pretty)
{
	const char *exe = m->exe ? m->exe : correlator__process_name(c, m->pid);
	const struct io_stats *io = out_io__of(m->io);
	const struct as_task **tasks = NULL;
	struct json_writer *w = NULL;
	uint64_t now = report__now(m, c);
	size_t n, i;
	int err;

	err = report__sorted_tasks(c, &tasks, &n);
	if (err)
		goto cleanup;
	w = json_writer__new(out, pretty ? JSON_WRITER_PRETTY : 0);
	if (!w) {
		err = -errno;
		goto cleanup;
	}

	json_writer__begin_object(w);
	json_writer__kv_u64(w, "version", 1);
	json_writer__key(w, "process");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "pid", m->pid);
	/* A string either way: consumers treat it as a path. */
	json_writer__kv_str(w, "exe", exe ? exe : "");
	json_writer__kv_str(w, "tokio_version", m->tokio_version);
	json_writer__end_object(w);
	json_writer__kv_u64(w, "duration_ns", report__duration(m, c));
	json_writer__key(w, "target_exited");
	json_writer__bool(w, m->target_exited != 0);
	write_summary(w, c, m, tasks, n);
	json_writer__key(w, "tasks");
	json_writer__begin_array(w);
	for (i = 0; i < n; i++)
		write_task(w, c, tasks[i], now, io);
	json_writer__end_array(w);
	/* sockets, waits and wake sources (user/out_io.c), when traced */
	if (io)
		out_io__json(w, io);
	json_writer__end_object(w);
	fputc('\n', out);
	err = json_writer__finish(w);

cleanup:
	json_writer__free(w);
	free(tasks);
	return err;
}

void out_json__print(FILE *out, const struct correlator *c, const struct report_meta *m)
{
	int err = out_json__write(out, c, m, false);

	if (err)
		pr_warn("json: cannot write the report: %s\n", strerror(-err));
}
