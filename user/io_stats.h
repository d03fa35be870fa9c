/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tasks wait on: the same ring-buffer records the correlator gets in,
 * per-task socket I/O, resources (sockets), waits (async ops) and the
 * source of every wake out.  Pure logic: no libbpf, no system calls.
 *
 * Records used: AS_EV_SOCK (socket operations, attributed by the BPF side
 * to the task polled on the thread), AS_EV_RUNTIME (a thread starts one of
 * tokio's wake phases), AS_EV_POLL and AS_EV_WAKER (wakes).  Within one
 * thread records arrive in the order the thread made them (one ring
 * buffer, reserved in program order); that is all the rules below rely on.
 *
 * Resources: one per socket (the socket inode, else the struct sock
 * address), from its first operation seen to its close.
 *
 * Waits (async ops, in the spirit of tokio-console's): a task that returned
 * Pending waits from the end of that poll until the first wake after it;
 * the wait is decided when the poll that wake resumed is seen (a wake
 * during a poll ends no wait).  When that first wake came from
 *  - the I/O driver: an I/O wait.  tokio often waits for readiness without
 *    any failed system call (a fresh socket, a short read clears its
 *    readiness), so its resource is: the one socket whose operation would
 *    block (-EAGAIN, a connect in progress) since it last succeeded, the
 *    wait then starting there; else the first socket the task uses after
 *    the wake; else the last it used before.
 *  - the time driver: a timer wait.
 *
 * Wake sources (one per wake_by_val / wake_by_ref):
 *  - self:     from the task's own poll, or deferred (yield_now): outside
 *              any poll and driver phase, on the thread of its last poll
 *  - task:     from another async task's poll (which one is kept)
 *  - blocking: from a spawn_blocking task
 *  - io:       outside any poll, after the thread's epoll_wait returned and
 *              before the I/O driver's turn returned
 *  - timer:    outside any poll, inside tokio's process_at_time
 *  - external: a thread that is not a runtime thread (block_on's thread of
 *              a multi-thread runtime, a std thread, ...)
 *  - other:    a runtime thread outside any poll and driver phase, not the
 *              thread the task last ran on
 * A runtime thread is one that polled an async task or started a phase.
 */
#ifndef ASYNCSCOPE_IO_STATS_H
#define ASYNCSCOPE_IO_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct correlator;
struct io_armed;

enum wake_source {
	WAKE_SRC_SELF = 0,
	WAKE_SRC_TASK,
	WAKE_SRC_BLOCKING,
	WAKE_SRC_IO,
	WAKE_SRC_TIMER,
	WAKE_SRC_EXTERNAL,
	WAKE_SRC_OTHER,
	WAKE_SRC__NR
};

const char *wake_source_name(enum wake_source src);	/* "self", "task", ... */

#define IO_RES_MAX_TASKS	8	/* tasks listed per resource (more are counted) */
#define IO_TASK_MAX_WAKERS	4	/* waking tasks listed per task */
#define IO_TASK_PEND		4	/* wakes kept until the polls they resume are seen */
#define IO_TASK_MAX_RES		32	/* resources a task's waits are kept for (the longest) */
#define IO_TASK_MAX_ARMED	16	/* sockets a task waits on at once */

struct io_resource {
	uint32_t pid;
	int32_t fd;			/* latest fd seen, -1 if unknown */
	uint64_t sk;
	uint64_t ino;
	uint16_t family, proto, type;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	uint64_t first_ns, last_ns;
	uint64_t closed_ns;		/* 0 while open */
	uint64_t bytes_in, bytes_out;
	uint64_t ops_in, ops_out;
	uint64_t would_block;		/* -EAGAIN results, connects in progress */
	uint64_t accepts;		/* connections accepted from it (a listener) */
	uint64_t connects;
	uint64_t waits, wait_ns, wait_max_ns;
	uint64_t tasks[IO_RES_MAX_TASKS];	/* tasks that operated on it, in order */
	uint32_t nr_tasks;
	uint32_t more_tasks;		/* beyond tasks[] */
};

/* Per task: I/O totals and what it waited on. */
struct io_task_res {
	uint32_t res;			/* index of the resource */
	uint64_t waits, wait_ns;
};

struct io_waker {
	uint64_t task_id;
	uint64_t wakes;
};

struct io_task {
	uint32_t pid;
	uint64_t id;
	uint64_t bytes_in, bytes_out;
	uint64_t ops_in, ops_out;
	uint64_t would_block_in, would_block_out;
	uint64_t connects, accepts, closes;
	uint64_t errors;		/* failed operations other than would-block */
	uint64_t io_waits, io_wait_ns, io_wait_max_ns;
	uint64_t timer_waits, timer_wait_ns, timer_wait_max_ns;
	uint64_t wakes[WAKE_SRC__NR];
	struct io_waker wakers[IO_TASK_MAX_WAKERS];	/* WAKE_SRC_TASK/BLOCKING wakers, most first */
	uint32_t nr_wakers;
	/* private */
	struct io_task_res *res;	/* resources it waited on */
	size_t nr_res, cap_res;
	struct io_armed *armed;		/* sockets whose operation would block, not done since */
	size_t nr_armed, cap_armed;
	uint64_t last_poll_start_ns, last_poll_end_ns;
	uint32_t last_poll_tid;		/* the thread of its latest poll */
	struct io_pend {
		uint64_t ns;
		uint32_t src;		/* enum wake_source */
	} pend[IO_TASK_PEND];		/* the first wakes after its last poll seen, oldest first */
	uint32_t nr_pend;
	int64_t pend_next_res;		/* the first socket it used after pend[0], -1 */
	int64_t last_op_res;		/* the last socket it used, -1 */
	uint32_t kind;			/* enum as_task_kind from its spawn (without a correlator) */
	bool seen_io;			/* any socket operation: has an "io" row */
};

enum io_wait_kind { IO_WAIT_IO = 1, IO_WAIT_TIMER = 2 };

/* One wait: an async op of tokio-console's resources view. */
struct io_wait {
	uint32_t pid;
	uint32_t kind;			/* enum io_wait_kind */
	int64_t res;			/* resource index, -1 for a timer */
	uint64_t task_id;
	uint64_t start_ns, end_ns;
};

struct io_stats_counts {
	uint64_t sock_records, runtime_records, malformed;
	uint64_t phases[4];		/* runtime records by enum as_rt_phase */
	uint64_t wakes[WAKE_SRC__NR];
	/* how the resource of each I/O wait was told (io_stats.h, "Waits") */
	uint64_t io_waits_armed, io_waits_next_op, io_waits_last_op, io_waits_unknown;
	uint64_t woken_in_poll;		/* the first wake since a poll came during the next: no wait */
	uint64_t waits;			/* waits seen (the list keeps at most max_waits) */
	uint64_t over_limit_records;	/* records of tasks not kept: max_tasks reached */
};

#define IO_STATS_MAX_WAITS	10000

struct io_stats_opts {
	size_t sz;			/* sizeof(struct io_stats_opts) */
	/* the kinds of tasks (blocking or async); NULL: from spawn records */
	const struct correlator *corr;
	/* waits listed: the first ones, then the longest; 0: IO_STATS_MAX_WAITS */
	size_t max_waits;
	size_t max_tasks;		/* tasks kept; 0: no limit (as record --max-tasks) */
};

struct io_stats;

struct io_stats *io_stats__new(const struct io_stats_opts *opts);
void io_stats__free(struct io_stats *s);	/* NULL-safe */

/*
 * Feed one ring-buffer record (every type: the ones not used are
 * skipped).  0, -EINVAL for a malformed record (counted), or -ENOMEM.
 */
int io_stats__feed(struct io_stats *s, const void *data, size_t size);

/* Nothing socket-related seen: outputs leave their I/O parts out. */
bool io_stats__empty(const struct io_stats *s);

size_t io_stats__nr_resources(const struct io_stats *s);
const struct io_resource *io_stats__resource(const struct io_stats *s, size_t idx);
/* The waits kept: in arrival order while fewer than max_waits, else in no order. */
size_t io_stats__nr_waits(const struct io_stats *s);
const struct io_wait *io_stats__wait(const struct io_stats *s, size_t idx);
/* The I/O side of a task, NULL if it has none (no socket operation, no classified wake). */
const struct io_task *io_stats__task(const struct io_stats *s, uint32_t pid, uint64_t id);
size_t io_stats__nr_tasks(const struct io_stats *s);
const struct io_task *io_stats__task_at(const struct io_stats *s, size_t idx);
const struct io_stats_counts *io_stats__counts(const struct io_stats *s);

/*
 * What the last record fed was, for a caller drawing it (timeline.c): the
 * enum wake_source of a wake (-1 for any other record), the resource index
 * of a socket operation (-1 for any other record).
 */
int io_stats__last_wake_source(const struct io_stats *s);
long io_stats__last_resource(const struct io_stats *s);

/* The resource the task waited on longest (I/O waits), -1 if none. */
long io_task__top_resource(const struct io_task *t);

/* "tcp", "udp", "tcp6", "unix", ... */
const char *io_resource__proto_name(const struct io_resource *r);
/* "127.0.0.1:8080", "[::1]:443", "-" when unknown; returns buf. */
char *io_resource__fmt_addr(const struct io_resource *r, bool peer, char *buf, size_t size);
#define IO_ADDR_BUF	64

#endif
