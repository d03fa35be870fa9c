/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The correlator: ring-buffer records in, task lifecycles and per-task
 * stats out.  Pure logic: no libbpf, no system calls, testable without root.
 *
 * Tasks are keyed by (pid, tokio task id), never by Header address (the
 * allocator reuses those).  Records from several processes may be mixed.
 * Every record is untrusted: short, oversized, unknown or out-of-order
 * records are counted in struct correlator_stats and never crash it.
 *
 * Semantics follow tokio-console:
 *   busy      = time inside polls
 *   scheduled = time from the wake that made the task runnable (or from
 *               the end of the poll during which it was woken, or from its
 *               creation before the first poll) to the poll that ran it
 *   idle      = total - busy - scheduled
 *   state     = done if closed; running if a poll is in progress;
 *               scheduled if never polled or woken since its last poll
 *               started; idle otherwise.
 */
#ifndef ASYNCSCOPE_CORRELATOR_H
#define ASYNCSCOPE_CORRELATOR_H

#include <stddef.h>
#include <stdint.h>

struct as_poll_frame;

enum task_state { TASK_IDLE = 0, TASK_SCHEDULED, TASK_RUNNING, TASK_DONE };

const char *task_state_name(enum task_state st);	/* "idle", "scheduled", ... */

/* struct as_task.flags */
#define TASK_F_SPAWN_SEEN	(1u << 0)	/* created from a spawn record */
#define TASK_F_LATE		(1u << 1)	/* first seen after its spawn (attached mid-life) */
#define TASK_F_COMPLETED	(1u << 2)	/* Harness::complete seen */
#define TASK_F_CANCELLED	(1u << 3)	/* polled with CANCELLED set (abort) */
#define TASK_F_SHUTDOWN		(1u << 4)	/* raw::shutdown seen */
#define TASK_F_IN_POLL		(1u << 5)	/* a poll is in progress (see correlator__poll_in_progress) */
#define TASK_F_SPAWN_INFERRED	(1u << 6)	/* spawned while traced, its spawn hooks inlined: created at its first record */

struct as_task {
	uint32_t pid;
	uint32_t kind;			/* enum as_task_kind, 0 if unknown */
	uint64_t id;			/* tokio::task::Id */
	uint64_t parent_id;		/* task that spawned it, 0 if none or unknown */
	uint32_t type_idx;		/* AS_TYPE_UNKNOWN if unknown */
	uint32_t flags;			/* TASK_F_* */
	const char *location;		/* "src/lib.rs:231:21", NULL if unknown; owned by the correlator */

	uint64_t created_ns;		/* spawn, or first sight for TASK_F_LATE */
	uint64_t closed_ns;		/* 0 while open */
	uint64_t first_poll_ns;		/* 0 if never polled */
	uint64_t last_poll_start_ns;
	uint64_t last_poll_end_ns;
	uint64_t last_wake_ns;
	uint64_t runnable_since_ns;	/* 0 unless scheduled and not yet polled */
	uint64_t poll_in_progress_ns;	/* start of the poll in progress, 0 if none */

	uint64_t busy_ns;
	uint64_t sched_ns;
	uint64_t polls;
	uint64_t wakes;			/* wake_by_val + wake_by_ref */
	uint64_t self_wakes;		/* woken from inside its own poll */
	uint64_t waker_clones;
	uint64_t waker_drops;
	uint64_t schedules;		/* raw::schedule hits */

	/* private to the correlator */
	uint64_t priv_wake_min_ns;	/* unconsumed wakes, min and max */
	uint64_t priv_wake_max_ns;
	uint64_t priv_complete_ns;	/* Harness::complete inside a poll, waiting for the poll record */
};

/* Times of a task as of now_ns (or of its close for done tasks). */
struct task_times {
	enum task_state state;
	uint64_t total_ns;
	uint64_t busy_ns;
	uint64_t sched_ns;
	uint64_t idle_ns;
};

void as_task__times(const struct as_task *t, uint64_t now_ns, struct task_times *out);

struct correlator_stats {
	uint64_t records;		/* records fed */
	uint64_t by_type[16];		/* indexed by enum as_event_type */
	uint64_t malformed;		/* short, size mismatch or unknown type: ignored */
	uint64_t duplicates;		/* a second spawn or completion of a task */
	uint64_t after_close;		/* records for a task already closed: ignored */
	uint64_t late_tasks;		/* tasks first seen without their spawn */
	/*
	 * Records of one task stamped or delivered out of order by concurrent
	 * threads, resolved, not anomalies: a poll record overtaken by a later
	 * poll; a poll end stamped after the next poll's start (its thread was
	 * preempted after the task went idle, before the return probe); a wake
	 * stamped before a poll already accounted for; a spawn, stamped at
	 * spawn's return, after the task's first records.
	 */
	uint64_t reordered;
	uint64_t over_limit_tasks;	/* spawns of tasks not kept: max_tasks reached */
	uint64_t over_limit_records;	/* records ignored because their task was not kept */
};

/* Lifecycle callbacks: one correlator feeds any number of outputs. */
enum span_event {
	SPAN_CREATED = 0,	/* ts = creation */
	SPAN_ENTERED,		/* a poll starts; tid = the thread polling */
	SPAN_EXITED,		/* a poll ends */
	SPAN_WOKEN,		/* a wake; tid = the waking thread */
	SPAN_CLOSED,		/* the task is done */
};

struct correlator_sink {
	void (*on_span)(void *ctx, const struct as_task *t, enum span_event ev,
			uint64_t ts_ns, uint32_t tid);
	void *ctx;
};

struct correlator_opts {
	size_t sz;			/* sizeof(struct correlator_opts) */
	size_t max_tasks;		/* 0: no limit.  Past it, new tasks are counted, not kept */
};

struct correlator;

struct correlator *correlator__new(const struct correlator_opts *opts);
void correlator__free(struct correlator *c);	/* NULL-safe */

/* At most 8 sinks; returns -E2BIG past that. */
int correlator__add_sink(struct correlator *c, const struct correlator_sink *sink);

/* Process metadata (names of the future types of each vtable index). */
int correlator__set_process(struct correlator *c, uint32_t pid, const char *name);
int correlator__set_type_name(struct correlator *c, uint32_t pid, uint32_t type_idx,
			      const char *name);
const char *correlator__process_name(const struct correlator *c, uint32_t pid);
/* Name (may be NULL: keep) and task kind (0: keep) of a vtable index. */
int correlator__set_type(struct correlator *c, uint32_t pid, uint32_t type_idx,
			 const char *name, uint32_t kind);
/*
 * tokio's next task id, read after the probes were attached: tasks with ids
 * from here on were spawned while traced even when no spawn record comes
 * (spawn hooks inlined), so they are not "late".
 */
int correlator__set_first_id(struct correlator *c, uint32_t pid, uint64_t first_id);
const char *correlator__type_name(const struct correlator *c, uint32_t pid, uint32_t type_idx);

/*
 * Feed one ring-buffer record.  Returns 0, or -EINVAL for a malformed
 * record (counted, otherwise ignored), or -ENOMEM.
 */
int correlator__feed(struct correlator *c, const void *data, size_t size);

/* A poll still running at the end (a frame of the BPF per-thread map). */
int correlator__poll_in_progress(struct correlator *c, uint32_t pid, uint32_t tid,
				 const struct as_poll_frame *f);

/* Close out: completions whose poll record never came are closed at their completion time. */
void correlator__finish(struct correlator *c, uint64_t now_ns);

/* Tasks in the order they were first seen. */
size_t correlator__nr_tasks(const struct correlator *c);
const struct as_task *correlator__task(const struct correlator *c, size_t idx);
const struct as_task *correlator__find(const struct correlator *c, uint32_t pid, uint64_t id);

const struct correlator_stats *correlator__stats(const struct correlator *c);

/* Latest timestamp of any accepted record (0 if none): "now" for a replay. */
uint64_t correlator__max_ts(const struct correlator *c);

#endif
