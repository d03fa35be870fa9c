/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the CLI knows about a trace besides what the correlator built:
 * handed to every output (out_table, out_json, ...).
 */
#ifndef ASYNCSCOPE_REPORT_H
#define ASYNCSCOPE_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct correlator;
struct as_task;
struct io_stats;

struct report_meta {
	uint32_t pid;			/* the traced process */
	const char *exe;		/* its executable, NULL if unknown */
	const char *tokio_version;	/* NULL if unknown */
	uint64_t start_ns;		/* CLOCK_MONOTONIC, as the records' ts_ns */
	uint64_t end_ns;		/* "now" for open tasks; 0: the latest record's time */
	/*
	 * Summed per-CPU BPF counters, indexed by enum as_counter and by
	 * AS_CNT_DROP_BASE + event type, AS_CNT_NR entries.  NULL when the
	 * records do not come from a live trace (a replay, a test).
	 */
	const uint64_t *counters;
	uint64_t received;		/* records handed to the correlator */
	int target_exited;		/* the process exited while traced */
	const struct io_stats *io;	/* sockets, waits, wake sources; NULL or empty: none traced */
};

/* Helpers the outputs share, so that the table and the JSON agree. */

/* The time open tasks are measured to: end_ns, else the latest record's. */
uint64_t report__now(const struct report_meta *m, const struct correlator *c);

/* end - start, 0 when the start is unknown. */
uint64_t report__duration(const struct report_meta *m, const struct correlator *c);

/* The tasks sorted by (pid, id) in a new array (free() it); 0 or -ENOMEM. */
int report__sorted_tasks(const struct correlator *c, const struct as_task ***tasks, size_t *nr);

/* "async", "blocking", or NULL when unknown. */
const char *report__kind_name(uint32_t kind);

/* The task kind of a vtable's scheduler name: AS_TASK_BLOCKING for "blocking", else AS_TASK_ASYNC. */
uint32_t report__kind_of_scheduler(const char *scheduler);

/*
 * A duration as tokio-console shows it, with 3 significant digits:
 * "850ns", "1.50us", "12.3ms", "120s".  Returns buf.
 */
#define REPORT_DUR_BUF	24
char *report__fmt_duration(char *buf, size_t size, uint64_t ns);

#endif
