// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "out_io.h"
#include "out_table.h"

enum col {
	COL_PID, COL_ID, COL_STATE, COL_TOTAL, COL_BUSY, COL_SCHED, COL_IDLE,
	COL_POLLS, COL_WAKES, COL_SELF, COL_CLONES, COL_DROPS,
	COL_RX, COL_TX, COL_EAGAIN, COL_IOWAIT, COL_WAITED_ON,	/* sockets traced only */
	COL_KIND, COL_LOCATION, COL_NAME, COL__NR
};

static const struct {
	const char *title;
	bool right;		/* numbers and durations line up on the right */
	bool io;		/* shown only when sockets were traced */
} cols[COL__NR] = {
	[COL_PID]	= { "PID", true },
	[COL_ID]	= { "ID", true },
	[COL_STATE]	= { "STATE", false },
	[COL_TOTAL]	= { "TOTAL", true },
	[COL_BUSY]	= { "BUSY", true },
	[COL_SCHED]	= { "SCHED", true },
	[COL_IDLE]	= { "IDLE", true },
	[COL_POLLS]	= { "POLLS", true },
	[COL_WAKES]	= { "WAKES", true },
	[COL_SELF]	= { "SELF", true },
	[COL_CLONES]	= { "CLONES", true },
	[COL_DROPS]	= { "DROPS", true },
	[COL_RX]	= { "RX", true, true },
	[COL_TX]	= { "TX", true, true },
	[COL_EAGAIN]	= { "EAGAIN", true, true },
	[COL_IOWAIT]	= { "IOWAIT", true, true },
	[COL_WAITED_ON]	= { "WAITED_ON", false, true },
	[COL_KIND]	= { "KIND", false },
	[COL_LOCATION]	= { "LOCATION", false },
	[COL_NAME]	= { "NAME", false },
};

#define CELL_SZ		32

struct row {
	char buf[COL__NR][CELL_SZ];
	const char *cell[COL__NR];
};

static void row_fill_io(struct row *r, const struct io_stats *io, const struct as_task *t)
{
	const struct io_task *it = io ? io_stats__task(io, t->pid, t->id) : NULL;

	if (!it || !it->seen_io) {
		for (int i = COL_RX; i <= COL_WAITED_ON; i++)
			r->cell[i] = "-";
		return;
	}
	snprintf(r->buf[COL_RX], CELL_SZ, "%" PRIu64, it->bytes_in);
	snprintf(r->buf[COL_TX], CELL_SZ, "%" PRIu64, it->bytes_out);
	snprintf(r->buf[COL_EAGAIN], CELL_SZ, "%" PRIu64, it->would_block_in + it->would_block_out);
	report__fmt_duration(r->buf[COL_IOWAIT], CELL_SZ, it->io_wait_ns);
	out_io__top_label(io, it, r->buf[COL_WAITED_ON], CELL_SZ);
}

static void row_fill(struct row *r, const struct correlator *c, const struct as_task *t,
		     uint64_t now, const struct io_stats *io)
{
	const char *kind = report__kind_name(t->kind), *name;
	struct task_times tm;
	char dur[REPORT_DUR_BUF];
	int i;

	as_task__times(t, now, &tm);
	for (i = 0; i < COL__NR; i++)
		r->cell[i] = r->buf[i];
	snprintf(r->buf[COL_PID], CELL_SZ, "%u", t->pid);
	snprintf(r->buf[COL_ID], CELL_SZ, "%" PRIu64, t->id);
	r->cell[COL_STATE] = task_state_name(tm.state);
	snprintf(r->buf[COL_TOTAL], CELL_SZ, "%s%s", t->flags & TASK_F_LATE ? "~" : "",
		 report__fmt_duration(dur, sizeof(dur), tm.total_ns));
	report__fmt_duration(r->buf[COL_BUSY], CELL_SZ, tm.busy_ns);
	report__fmt_duration(r->buf[COL_SCHED], CELL_SZ, tm.sched_ns);
	report__fmt_duration(r->buf[COL_IDLE], CELL_SZ, tm.idle_ns);
	snprintf(r->buf[COL_POLLS], CELL_SZ, "%" PRIu64, t->polls);
	snprintf(r->buf[COL_WAKES], CELL_SZ, "%" PRIu64, t->wakes);
	snprintf(r->buf[COL_SELF], CELL_SZ, "%" PRIu64, t->self_wakes);
	snprintf(r->buf[COL_CLONES], CELL_SZ, "%" PRIu64, t->waker_clones);
	snprintf(r->buf[COL_DROPS], CELL_SZ, "%" PRIu64, t->waker_drops);
	r->cell[COL_KIND] = kind ? kind : "?";
	r->cell[COL_LOCATION] = t->location ? t->location : "-";
	name = correlator__type_name(c, t->pid, t->type_idx);
	r->cell[COL_NAME] = name ? name : "-";
	row_fill_io(r, io, t);
}

/* Type names come from the target's ELF file: keep its bytes off the terminal's controls. */
static void put_safe(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void print_cells(FILE *out, const char *const *cell, const size_t *width, bool multi_pid,
			bool io)
{
	int i;

	for (i = multi_pid ? COL_PID : COL_ID; i < COL__NR; i++) {
		size_t len = strlen(cell[i]);

		if (cols[i].io && !io)
			continue;
		if (i != (multi_pid ? COL_PID : COL_ID))
			fputs("  ", out);
		if (i == COL__NR - 1) {
			/* The last column is not padded: no trailing blanks. */
			put_safe(out, cell[i]);
			break;
		}
		if (cols[i].right)
			fprintf(out, "%*s", (int)(width[i] - len), "");
		put_safe(out, cell[i]);
		if (!cols[i].right)
			fprintf(out, "%*s", (int)(width[i] - len), "");
	}
	fputc('\n', out);
}

static void print_header(FILE *out, const struct correlator *c, const struct report_meta *m,
			 size_t nr_tasks, uint64_t polls)
{
	const char *exe = m->exe ? m->exe : correlator__process_name(c, m->pid);
	char dur[REPORT_DUR_BUF];

	fprintf(out, "pid %u", m->pid);
	if (exe) {
		fputs("  exe ", out);
		put_safe(out, exe);
	}
	if (m->tokio_version) {
		fputs("  tokio ", out);
		put_safe(out, m->tokio_version);
	}
	fprintf(out, "  duration %s  tasks %zu  polls %" PRIu64 "%s\n",
		report__fmt_duration(dur, sizeof(dur), report__duration(m, c)), nr_tasks, polls,
		m->target_exited ? "  (target exited)" : "");
}

/* Prints "name N" after lead (first item) or ", "; zeros are skipped when asked. */
static void list_item(FILE *out, bool *first, const char *lead, const char *name, uint64_t v,
		      bool skip_zero)
{
	if (skip_zero && !v)
		return;
	fprintf(out, "%s%s %" PRIu64, *first ? lead : ", ", name, v);
	*first = false;
}

static void anomaly(FILE *out, bool *first, const char *name, uint64_t v)
{
	list_item(out, first, "anomalies: ", name, v, true);
}

static const char *const ev_names[AS_EV__MAX] = {
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

static void print_footer(FILE *out, const struct correlator *c, const struct report_meta *m,
			 size_t nr_late)
{
	const struct correlator_stats *st = correlator__stats(c);
	const uint64_t *k = m->counters;
	uint64_t dropped = k ? k[AS_CNT_DROPPED] : 0;
	bool first = true;
	int i;

	fprintf(out, "events: %" PRIu64 " received", m->received);
	if (k)
		fprintf(out, " of %" PRIu64 " emitted", k[AS_CNT_EMITTED]);
	/* socket and runtime records only when sockets were traced: tokio's tables stay as they were */
	for (i = AS_EV_POLL; i < AS_EV__MAX; i++)
		list_item(out, &first, ": ", ev_names[i], st->by_type[i], i >= AS_EV_SOCK);
	if (st->reordered)
		fprintf(out, " (%" PRIu64 " stamped out of order by concurrent threads, resolved)",
			st->reordered);
	fputc('\n', out);

	first = true;
	anomaly(out, &first, "malformed", st->malformed);
	anomaly(out, &first, "duplicates", st->duplicates);
	anomaly(out, &first, "after_close", st->after_close);
	anomaly(out, &first, "late_tasks", st->late_tasks);
	if (k) {
		anomaly(out, &first, "unknown_vtable", k[AS_CNT_UNKNOWN_VTABLE]);
		anomaly(out, &first, "read_fault", k[AS_CNT_READ_FAULT]);
		anomaly(out, &first, "poll_orphan_ret", k[AS_CNT_POLL_ORPHAN_RET]);
		anomaly(out, &first, "poll_stale", k[AS_CNT_POLL_STALE]);
		anomaly(out, &first, "poll_too_deep", k[AS_CNT_POLL_TOO_DEEP]);
	}
	if (!first)
		fputc('\n', out);
	if (st->over_limit_tasks || st->over_limit_records)
		fprintf(out, "note: task table full: %" PRIu64 " spawned tasks and %" PRIu64
			" records not kept\n", st->over_limit_tasks, st->over_limit_records);
	if (nr_late)
		fputs("~ spawn not seen (spawned before tracing started): "
		      "its times start at its first record\n", out);

	if (dropped) {
		fprintf(out, "WARNING: %" PRIu64 " records lost (ring buffer full", dropped);
		first = true;
		for (i = AS_EV_POLL; i < AS_EV__MAX; i++)
			list_item(out, &first, ": ", ev_names[i], k[AS_CNT_DROP_BASE + i], true);
		fprintf(out, "); per-task numbers are incomplete, the kernel totals are exact: "
			"polls %" PRIu64 ", spawns %" PRIu64 " (async %" PRIu64 ", blocking %" PRIu64
			"), completions %" PRIu64 "\n",
			k[AS_CNT_POLL], k[AS_CNT_SPAWN] + k[AS_CNT_SPAWN_BLOCKING], k[AS_CNT_SPAWN],
			k[AS_CNT_SPAWN_BLOCKING], k[AS_CNT_COMPLETE]);
	}
}

void out_table__print(FILE *out, const struct correlator *c, const struct report_meta *m)
{
	size_t width[COL__NR], n, i, nr_late = 0;
	const char *titles[COL__NR];
	const struct as_task **tasks = NULL;
	uint64_t now = report__now(m, c), polls = 0;
	const struct io_stats *io = out_io__of(m->io);
	bool multi_pid = false, sorted;
	struct row r;
	int j;

	/* Without memory for the sort, first-seen order still makes a table. */
	sorted = report__sorted_tasks(c, &tasks, &n) == 0;
	if (!sorted)
		n = correlator__nr_tasks(c);

	for (j = 0; j < COL__NR; j++)
		width[j] = strlen(cols[j].title);
	for (i = 0; i < n; i++) {
		const struct as_task *t = sorted ? tasks[i] : correlator__task(c, i);

		row_fill(&r, c, t, now, io);
		for (j = 0; j < COL__NR; j++) {
			size_t len = strlen(r.cell[j]);

			if (len > width[j])
				width[j] = len;
		}
		polls += t->polls;
		if (t->flags & TASK_F_LATE)
			nr_late++;
		if (t->pid != m->pid)
			multi_pid = true;
	}

	print_header(out, c, m, n, polls);
	for (j = 0; j < COL__NR; j++)
		titles[j] = cols[j].title;
	print_cells(out, titles, width, multi_pid, io);
	for (i = 0; i < n; i++) {
		row_fill(&r, c, sorted ? tasks[i] : correlator__task(c, i), now, io);
		print_cells(out, r.cell, width, multi_pid, io);
	}
	if (io)
		out_io__table(out, io);
	print_footer(out, c, m, nr_late);
	free(tasks);
}
