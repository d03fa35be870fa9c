/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The timeline: ring-buffer records in, what a trace viewer draws out.
 * Pure logic (no libbpf, no system calls), shared by the Perfetto and the
 * Chrome JSON exporters (out_perfetto.c, out_chrome.c).
 *
 *	tl = timeline__new();
 *	timeline__set_process(tl, pid, "server");	(metadata, any time before finish)
 *	timeline__feed(tl, rec, size);			(every record, in any order)
 *	timeline__finish(tl, end_ns);			(sorts, closes, links)
 *	out_perfetto__write(f, tl);
 *	timeline__free(tl);
 *
 * After timeline__finish() it holds, all in CLOCK_MONOTONIC ns:
 *  - poll slices: one per poll record, on the thread that ran it, numbered
 *    per task in start order, properly nested per thread (a poll that would
 *    stick out of the one it started in is clipped to it);
 *  - task lives: per task, contiguous segments scheduled / running / idle
 *    from creation to close (or to end_ns), with the correlator's semantics
 *    (correlator.h): scheduled from the wake that made the task runnable, or
 *    from the end of the poll during which it was woken, or from its
 *    creation, to the poll that ran it;
 *  - flows: spawn -> first poll, and wake -> the poll it caused (the wake
 *    that made the task runnable);
 *  - wakes (wake_by_val / wake_by_ref), self-wakes flagged, with their
 *    source (io_stats.h) when given an io_stats;
 *  - socket operations, with the task and the socket (resource) they were of.
 *
 * Records are untrusted: short, oversized, unknown or inconsistent records
 * are counted in struct timeline_stats and never crash it.  Records may
 * arrive out of time order (poll records are emitted at poll end, from
 * every CPU): everything is sorted at finish.  Polls cost 32 bytes and
 * wakes 24 (plus 4 bytes of index per poll); waker clones and drops cost
 * nothing.
 */
#ifndef ASYNCSCOPE_TIMELINE_H
#define ASYNCSCOPE_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#define TL_NONE			UINT32_MAX
#define TL_MAX_THREADS		(1u << 24)

/* struct tl_poll.flags: the first three are the record's AS_POLL_* */
#define TL_POLL_READY		(1u << 0)	/* returned Ready: the task completed */
#define TL_POLL_CANCELLED	(1u << 1)
#define TL_POLL_NESTED		(1u << 2)	/* polled inside another task's poll */
#define TL_POLL_RUNNING		(1u << 3)	/* running when tracing stopped: ends at finish */
#define TL_POLL_CLIPPED		(1u << 4)	/* end moved earlier (nesting, overlap, close) */

struct tl_poll {
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t task;		/* timeline__task() index */
	uint32_t thread : 24;	/* timeline__thread() index */
	uint32_t flags : 8;	/* TL_POLL_* */
	uint32_t poll_no;	/* 1, 2, ... in start order within its task */
	uint32_t wake;		/* the wake that made it runnable: timeline__wake() index + 1 */
};

/* struct tl_wake.flags */
#define TL_WAKE_BY_REF		(1u << 0)	/* wake_by_ref (else wake_by_val) */
#define TL_WAKE_SELF		(1u << 1)	/* from inside the woken task's own poll */
#define TL_WAKE_CAUSED		(1u << 2)	/* made the task runnable: a flow to the poll */
/* bits 3-5: the wake's enum wake_source + 1 (user/io_stats.h), 0 when unknown */
#define TL_WAKE_SRC_SHIFT	3
#define TL_WAKE_SRC_MASK	(7u << TL_WAKE_SRC_SHIFT)

struct tl_wake {
	uint64_t ts_ns;
	uint64_t waker_id;	/* task polled on the waking thread (tokio id), 0 if none */
	uint32_t task;		/* the woken task: timeline__task() index */
	uint32_t thread : 24;	/* the waking thread */
	uint32_t flags : 8;	/* TL_WAKE_* */
};

/* The wake's enum wake_source, -1 when unknown (no io_stats, see timeline__set_io). */
int tl_wake__source(const struct tl_wake *w);

/* A socket operation (AS_EV_SOCK): lengths and addresses only. */
struct tl_sock {
	uint64_t ts_ns;
	uint64_t task_id;	/* the task polled when it happened, 0 if none */
	int64_t ret;		/* bytes, the new fd (accept) or -errno */
	uint32_t pid;
	uint32_t task;		/* after finish: timeline__task() index, TL_NONE if none */
	uint32_t thread;	/* timeline__thread() index */
	uint32_t res;		/* io_stats__resource() index, TL_NONE without io_stats */
	int32_t fd;
	uint16_t op;		/* enum as_sock_op */
	uint16_t pad;
};

/* struct tl_task.flags */
#define TL_TASK_SPAWN_SEEN	(1u << 0)	/* its spawn record was seen */
#define TL_TASK_LATE		(1u << 1)	/* alive before tracing started */
#define TL_TASK_INFERRED	(1u << 2)	/* spawned while traced, spawn hooks inlined */
#define TL_TASK_COMPLETED	(1u << 3)	/* Harness::complete seen */
#define TL_TASK_CLOSED		(1u << 4)	/* done before the end of the trace */
#define TL_TASK_CANCELLED	(1u << 5)
#define TL_TASK_SHUTDOWN	(1u << 6)
#define TL_TASK_COMPLETE_IN_POLL (1u << 7)	/* completed inside its own poll */

struct tl_task {
	uint64_t id;		/* tokio::task::Id */
	uint64_t parent_id;	/* 0 if none or unknown */
	uint64_t created_ns;	/* spawn, or first sight */
	uint64_t closed_ns;	/* after finish: close, or the end of the trace if open */
	uint64_t spawn_ns;	/* 0 without a spawn record */
	uint64_t complete_ns;	/* Harness::complete, 0 if not seen */
	const char *location;	/* spawn location "file:line:col", NULL if unknown */
	uint32_t pid;
	uint32_t kind;		/* enum as_task_kind, 0 if unknown */
	uint32_t type_idx;	/* AS_TYPE_UNKNOWN if unknown */
	uint32_t flags;		/* TL_TASK_* */
	uint32_t spawn_thread;	/* timeline__thread() index of the spawn, TL_NONE */
	uint32_t first_poll;	/* after finish: its polls are [first_poll, + nr_polls) */
	uint32_t nr_polls;
	uint32_t first_wake;	/* after finish: its wakes are [first_wake, + nr_wakes) */
	uint32_t nr_wakes;
};

/* "async", "blocking" or "?" */
const char *tl_task__kind_name(const struct tl_task *t);
/* "spawned" (spawn seen), "inferred" (spawned while traced, hooks inlined) or "late" */
const char *tl_task__origin(const struct tl_task *t);

struct tl_thread {
	uint32_t pid;
	uint32_t tid;
	const char *name;	/* NULL if unknown */
};

struct tl_proc {
	uint32_t pid;
	const char *name;	/* NULL if unknown */
	uint64_t first_id;	/* see timeline__set_first_id(), 0 if unknown */
};

enum tl_seg_state { TL_SEG_SCHEDULED = 0, TL_SEG_RUNNING, TL_SEG_IDLE };

const char *tl_seg_state_name(enum tl_seg_state st);
/* "recv", "send", "connect", "accept", "close"; NULL for any other enum as_sock_op */
const char *tl_sock_op_name(uint16_t op);	/* "scheduled", "running", "idle" */

/* One piece of a task's life: [start_ns, end_ns), never empty. */
struct tl_seg {
	uint64_t start_ns;
	uint64_t end_ns;
	enum tl_seg_state state;
	uint32_t poll;		/* TL_SEG_RUNNING: timeline__poll() index */
};

struct timeline_stats {
	uint64_t records;		/* records fed */
	uint64_t by_type[16];		/* accepted, by enum as_event_type */
	uint64_t malformed;		/* short, wrong size, unknown type, zero fields */
	uint64_t duplicates;		/* a second spawn or completion of a task */
	uint64_t after_close;		/* polls started after their task closed: dropped */
	uint64_t clipped;		/* polls whose end was moved earlier */
};

struct timeline;

struct timeline *timeline__new(void);
void timeline__free(struct timeline *tl);	/* NULL-safe */

/* Metadata; names are copied (bytes that are not printable UTF-8 become '?'). */
int timeline__set_process(struct timeline *tl, uint32_t pid, const char *name);
int timeline__set_thread(struct timeline *tl, uint32_t pid, uint32_t tid, const char *name);
/* Name (NULL: keep) and task kind (0: keep) of a vtable index. */
int timeline__set_type(struct timeline *tl, uint32_t pid, uint32_t type_idx, const char *name,
		       uint32_t kind);
/* tokio's next task id at attach: tasks from it on were spawned while traced (correlator.h). */
int timeline__set_first_id(struct timeline *tl, uint32_t pid, uint64_t first_id);
/*
 * Sockets and wake sources: every record fed from now on is fed to io
 * first, which classifies wakes (tl_wake__source) and names the socket of
 * each operation (tl_sock.res).  io must outlive the timeline's use.
 */
struct io_stats;
void timeline__set_io(struct timeline *tl, struct io_stats *io);
const struct io_stats *timeline__io(const struct timeline *tl);	/* NULL if none */

/* CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock times in the viewers. */
void timeline__set_realtime_offset(struct timeline *tl, int64_t offset_ns);

/*
 * Feed one ring-buffer record.  0, -EINVAL for a malformed record (counted,
 * otherwise ignored), -ENOMEM, -E2BIG (more than 2^32 polls or wakes, 2^24
 * threads), -EBUSY after finish.
 */
int timeline__feed(struct timeline *tl, const void *data, size_t size);

/* A poll still running when tracing stopped (from the BPF per-thread map). */
int timeline__poll_in_progress(struct timeline *tl, uint32_t pid, uint32_t tid,
			       uint64_t task_id, uint32_t type_idx, uint64_t start_ns);

/*
 * Sort, close and link; what is still open ends at end_ns (0, or earlier
 * than a record: at the latest record).  0, -EBUSY when called twice, or
 * -ENOMEM (then the timeline can only be freed).
 */
int timeline__finish(struct timeline *tl, uint64_t end_ns);
int timeline__is_finished(const struct timeline *tl);	/* 1 after a successful finish */

/* Read-only views, valid after timeline__finish(). */
uint64_t timeline__start_ns(const struct timeline *tl);	/* earliest time, 0 if empty */
uint64_t timeline__end_ns(const struct timeline *tl);
/* 0 and *offset_ns, or -ENOENT when no realtime offset was given. */
int timeline__realtime_offset(const struct timeline *tl, int64_t *offset_ns);

size_t timeline__nr_procs(const struct timeline *tl);
const struct tl_proc *timeline__proc(const struct timeline *tl, size_t idx);
size_t timeline__nr_threads(const struct timeline *tl);
const struct tl_thread *timeline__thread(const struct timeline *tl, size_t idx);
size_t timeline__nr_tasks(const struct timeline *tl);	/* in the order first seen */
const struct tl_task *timeline__task(const struct timeline *tl, size_t idx);
const struct tl_task *timeline__find_task(const struct timeline *tl, uint32_t pid, uint64_t id);

/* Polls grouped by task, in start order within each task. */
size_t timeline__nr_polls(const struct timeline *tl);
const struct tl_poll *timeline__poll(const struct timeline *tl, size_t idx);
/*
 * The k-th poll in thread order: grouped by thread, then by start, an
 * enclosing poll before the polls nested in it.  Returns its timeline__poll() index.
 */
size_t timeline__poll_by_thread(const struct timeline *tl, size_t k);

/* Wakes grouped by woken task, in time order within each task. */
size_t timeline__nr_wakes(const struct timeline *tl);
const struct tl_wake *timeline__wake(const struct timeline *tl, size_t idx);

/* Socket operations, in the order they were fed (each thread's in time order). */
size_t timeline__nr_socks(const struct timeline *tl);
const struct tl_sock *timeline__sock(const struct timeline *tl, size_t idx);

/* The future type's name of a task (NULL if unknown). */
const char *timeline__type_name(const struct timeline *tl, uint32_t pid, uint32_t type_idx);
const char *timeline__task_name(const struct timeline *tl, const struct tl_task *t);

/*
 * Calls fn for each segment of a task's life, in time order.  Returns 0, or
 * the first nonzero fn returned, or -EINVAL (bad index, not finished).
 */
typedef int (*tl_seg_fn)(void *ctx, const struct tl_seg *seg);
int timeline__task_segments(const struct timeline *tl, size_t task_idx, tl_seg_fn fn, void *ctx);

const struct timeline_stats *timeline__stats(const struct timeline *tl);

#endif
