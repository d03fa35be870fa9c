// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>
#include "asyncscope.h"
#include "correlator.h"
#include "json_writer.h"
#include "out_io.h"
#include "report.h"

const struct io_stats *out_io__of(const struct io_stats *io)
{
	return io && !io_stats__empty(io) ? io : NULL;
}

char *out_io__top_label(const struct io_stats *io, const struct io_task *t, char *buf, size_t size)
{
	const struct io_resource *r;
	char addr[IO_ADDR_BUF];
	long idx = t ? io_task__top_resource(t) : -1;

	r = idx >= 0 ? io_stats__resource(io, (size_t)idx) : NULL;
	if (!r) {
		snprintf(buf, size, "-");
		return buf;
	}
	io_resource__fmt_addr(r, r->rport != 0, addr, sizeof(addr));
	snprintf(buf, size, "%s %s", io_resource__proto_name(r), addr);
	return buf;
}

/* --- table -------------------------------------------------------------- */

enum rcol {
	RC_FD, RC_PROTO, RC_LOCAL, RC_PEER, RC_RX, RC_TX, RC_OPS, RC_EAGAIN, RC_WAITS,
	RC_WAITED, RC_MAX, RC_TASKS, RC__NR
};

static const struct {
	const char *title;
	bool right;
} rcols[RC__NR] = {
	[RC_FD] = { "FD", true },	  [RC_PROTO] = { "PROTO", false },
	[RC_LOCAL] = { "LOCAL", false },  [RC_PEER] = { "PEER", false },
	[RC_RX] = { "RX", true },	  [RC_TX] = { "TX", true },
	[RC_OPS] = { "OPS", true },	  [RC_EAGAIN] = { "EAGAIN", true },
	[RC_WAITS] = { "WAITS", true },	  [RC_WAITED] = { "WAITED", true },
	[RC_MAX] = { "MAX", true },	  [RC_TASKS] = { "TASKS", false },
};

#define RCELL	96

struct rrow {
	char cell[RC__NR][RCELL];
};

static void rrow_fill(struct rrow *row, const struct io_resource *r)
{
	size_t n = 0;

	if (r->fd >= 0)
		snprintf(row->cell[RC_FD], RCELL, "%d", r->fd);
	else
		snprintf(row->cell[RC_FD], RCELL, "-");
	snprintf(row->cell[RC_PROTO], RCELL, "%s", io_resource__proto_name(r));
	io_resource__fmt_addr(r, false, row->cell[RC_LOCAL], RCELL);
	io_resource__fmt_addr(r, true, row->cell[RC_PEER], RCELL);
	snprintf(row->cell[RC_RX], RCELL, "%" PRIu64, r->bytes_in);
	snprintf(row->cell[RC_TX], RCELL, "%" PRIu64, r->bytes_out);
	snprintf(row->cell[RC_OPS], RCELL, "%" PRIu64, r->ops_in + r->ops_out);
	snprintf(row->cell[RC_EAGAIN], RCELL, "%" PRIu64, r->would_block);
	snprintf(row->cell[RC_WAITS], RCELL, "%" PRIu64, r->waits);
	report__fmt_duration(row->cell[RC_WAITED], RCELL, r->wait_ns);
	report__fmt_duration(row->cell[RC_MAX], RCELL, r->wait_max_ns);
	row->cell[RC_TASKS][0] = 0;
	for (uint32_t i = 0; i < r->nr_tasks && n < RCELL - 24; i++)
		n += (size_t)snprintf(row->cell[RC_TASKS] + n, RCELL - n, "%s%" PRIu64,
				      i ? "," : "", r->tasks[i]);
	if (r->more_tasks)
		snprintf(row->cell[RC_TASKS] + n, RCELL - n, ",+%u", r->more_tasks);
	if (!r->nr_tasks)
		snprintf(row->cell[RC_TASKS], RCELL, "-");
}

static void rrow_print(FILE *out, const char (*cell)[RCELL], const size_t *width)
{
	for (int i = 0; i < RC__NR; i++) {
		int pad = (int)(width[i] - strlen(cell[i]));

		if (i)
			fputs("  ", out);
		if (i == RC__NR - 1) {
			fputs(cell[i], out);
			break;
		}
		if (rcols[i].right)
			fprintf(out, "%*s", pad, "");
		fputs(cell[i], out);
		if (!rcols[i].right)
			fprintf(out, "%*s", pad, "");
	}
	fputc('\n', out);
}

void out_io__table(FILE *out, const struct io_stats *io)
{
	const struct io_stats_counts *k = io_stats__counts(io);
	size_t n = io_stats__nr_resources(io), width[RC__NR];
	struct rrow row, titles;

	fprintf(out, "resources: %zu socket%s\n", n, n == 1 ? "" : "s");
	for (int i = 0; i < RC__NR; i++) {
		snprintf(titles.cell[i], RCELL, "%s", rcols[i].title);
		width[i] = strlen(rcols[i].title);
	}
	for (size_t j = 0; j < n; j++) {
		rrow_fill(&row, io_stats__resource(io, j));
		for (int i = 0; i < RC__NR; i++)
			if (strlen(row.cell[i]) > width[i])
				width[i] = strlen(row.cell[i]);
	}
	if (n)
		rrow_print(out, (const char (*)[RCELL])titles.cell, width);
	for (size_t j = 0; j < n; j++) {
		rrow_fill(&row, io_stats__resource(io, j));
		rrow_print(out, (const char (*)[RCELL])row.cell, width);
	}
	fputs("wakes by source:", out);
	for (int s = 0; s < WAKE_SRC__NR; s++)
		fprintf(out, "%s %s %" PRIu64, s ? "," : "", wake_source_name(s), k->wakes[s]);
	fputc('\n', out);
}

/* --- JSON --------------------------------------------------------------- */

static void wakes_obj(struct json_writer *w, const uint64_t *wakes)
{
	json_writer__key(w, "wakes_by_source");
	json_writer__begin_object(w);
	for (int s = 0; s < WAKE_SRC__NR; s++)
		json_writer__kv_u64(w, wake_source_name(s), wakes[s]);
	json_writer__end_object(w);
}

void out_io__json_task(struct json_writer *w, const struct io_stats *io, const struct as_task *ct)
{
	const struct io_task *t = io_stats__task(io, ct->pid, ct->id);
	long top;

	json_writer__key(w, "io");
	if (!t) {
		json_writer__null(w);
		return;
	}
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "bytes_in", t->bytes_in);
	json_writer__kv_u64(w, "bytes_out", t->bytes_out);
	json_writer__kv_u64(w, "ops_in", t->ops_in);
	json_writer__kv_u64(w, "ops_out", t->ops_out);
	json_writer__kv_u64(w, "would_block_in", t->would_block_in);
	json_writer__kv_u64(w, "would_block_out", t->would_block_out);
	json_writer__kv_u64(w, "connects", t->connects);
	json_writer__kv_u64(w, "accepts", t->accepts);
	json_writer__kv_u64(w, "closes", t->closes);
	json_writer__kv_u64(w, "errors", t->errors);
	json_writer__kv_u64(w, "io_waits", t->io_waits);
	json_writer__kv_u64(w, "io_wait_ns", t->io_wait_ns);
	json_writer__kv_u64(w, "io_wait_max_ns", t->io_wait_max_ns);
	json_writer__kv_u64(w, "timer_waits", t->timer_waits);
	json_writer__kv_u64(w, "timer_wait_ns", t->timer_wait_ns);
	json_writer__kv_u64(w, "timer_wait_max_ns", t->timer_wait_max_ns);
	top = io_task__top_resource(t);
	json_writer__kv_u64_opt(w, "top_resource", (uint64_t)top, top >= 0);
	json_writer__key(w, "resources");
	json_writer__begin_array(w);
	for (size_t i = 0; i < t->nr_res; i++) {
		json_writer__begin_object(w);
		json_writer__kv_u64(w, "resource", t->res[i].res);
		json_writer__kv_u64(w, "waits", t->res[i].waits);
		json_writer__kv_u64(w, "wait_ns", t->res[i].wait_ns);
		json_writer__end_object(w);
	}
	json_writer__end_array(w);
	wakes_obj(w, t->wakes);
	json_writer__key(w, "wakers");
	json_writer__begin_array(w);
	for (uint32_t i = 0; i < t->nr_wakers; i++) {
		json_writer__begin_object(w);
		json_writer__kv_u64(w, "task_id", t->wakers[i].task_id);
		json_writer__kv_u64(w, "wakes", t->wakers[i].wakes);
		json_writer__end_object(w);
	}
	json_writer__end_array(w);
	json_writer__end_object(w);
}

static void addr_kv(struct json_writer *w, const struct io_resource *r, bool peer)
{
	char buf[IO_ADDR_BUF];

	io_resource__fmt_addr(r, peer, buf, sizeof(buf));
	json_writer__key(w, peer ? "peer" : "local");
	if (strcmp(buf, "-"))
		json_writer__string(w, buf);
	else
		json_writer__null(w);
	json_writer__kv_u64(w, peer ? "peer_port" : "local_port", peer ? r->rport : r->lport);
}

static void write_resource(struct json_writer *w, const struct io_resource *r, size_t idx)
{
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "index", idx);
	json_writer__kv_u64(w, "pid", r->pid);
	json_writer__key(w, "fd");
	json_writer__i64(w, r->fd);
	json_writer__key(w, "proto");
	json_writer__string(w, io_resource__proto_name(r));
	json_writer__kv_u64(w, "family", r->family);
	json_writer__kv_u64(w, "inode", r->ino);
	addr_kv(w, r, false);
	addr_kv(w, r, true);
	json_writer__kv_u64(w, "first_ns", r->first_ns);
	json_writer__kv_u64(w, "last_ns", r->last_ns);
	json_writer__kv_u64_opt(w, "closed_ns", r->closed_ns, r->closed_ns);
	json_writer__kv_u64(w, "bytes_in", r->bytes_in);
	json_writer__kv_u64(w, "bytes_out", r->bytes_out);
	json_writer__kv_u64(w, "ops_in", r->ops_in);
	json_writer__kv_u64(w, "ops_out", r->ops_out);
	json_writer__kv_u64(w, "would_block", r->would_block);
	json_writer__kv_u64(w, "accepts", r->accepts);
	json_writer__kv_u64(w, "connects", r->connects);
	json_writer__kv_u64(w, "waits", r->waits);
	json_writer__kv_u64(w, "wait_ns", r->wait_ns);
	json_writer__kv_u64(w, "wait_max_ns", r->wait_max_ns);
	json_writer__key(w, "tasks");
	json_writer__begin_array(w);
	for (uint32_t i = 0; i < r->nr_tasks; i++)
		json_writer__u64(w, r->tasks[i]);
	json_writer__end_array(w);
	json_writer__kv_u64(w, "more_tasks", r->more_tasks);
	json_writer__end_object(w);
}

static int wait_cmp(const void *a, const void *b)
{
	const struct io_wait *x = *(const struct io_wait *const *)a, *y = *(const struct io_wait *const *)b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->task_id < y->task_id ? -1 : x->task_id > y->task_id;
}

void out_io__json(struct json_writer *w, const struct io_stats *io)
{
	const struct io_stats_counts *k = io_stats__counts(io);
	size_t nr = io_stats__nr_waits(io);
	/* in time order; without memory for it, in the order kept */
	const struct io_wait **ops = calloc(nr ?: 1, sizeof(*ops));

	for (size_t i = 0; ops && i < nr; i++)
		ops[i] = io_stats__wait(io, i);
	if (ops)
		qsort(ops, nr, sizeof(*ops), wait_cmp);

	json_writer__key(w, "io");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "sock_records", k->sock_records);
	json_writer__kv_u64(w, "runtime_records", k->runtime_records);
	json_writer__key(w, "phases");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "io_events", k->phases[AS_RT_IO_EVENTS]);
	json_writer__kv_u64(w, "timers", k->phases[AS_RT_TIMERS]);
	json_writer__kv_u64(w, "driver_done", k->phases[AS_RT_DRIVER_DONE]);
	json_writer__end_object(w);
	json_writer__kv_u64(w, "malformed", k->malformed);
	json_writer__key(w, "io_wait_resource_from");
	json_writer__begin_object(w);
	json_writer__kv_u64(w, "would_block", k->io_waits_armed);
	json_writer__kv_u64(w, "next_op", k->io_waits_next_op);
	json_writer__kv_u64(w, "last_op", k->io_waits_last_op);
	json_writer__kv_u64(w, "unknown", k->io_waits_unknown);
	json_writer__end_object(w);
	json_writer__kv_u64(w, "woken_in_poll", k->woken_in_poll);
	/* async_ops lists the first ones, then the longest (io_stats.h) */
	json_writer__kv_u64(w, "async_ops_total", k->waits);
	json_writer__kv_u64(w, "async_ops_listed", nr);
	json_writer__kv_u64(w, "over_limit_records", k->over_limit_records);
	wakes_obj(w, k->wakes);
	json_writer__end_object(w);

	json_writer__key(w, "resources");
	json_writer__begin_array(w);
	for (size_t i = 0; i < io_stats__nr_resources(io); i++)
		write_resource(w, io_stats__resource(io, i), i);
	json_writer__end_array(w);

	json_writer__key(w, "async_ops");
	json_writer__begin_array(w);
	for (size_t i = 0; i < nr; i++) {
		const struct io_wait *op = ops ? ops[i] : io_stats__wait(io, i);

		json_writer__begin_object(w);
		json_writer__kv_u64(w, "pid", op->pid);
		json_writer__kv_u64(w, "task_id", op->task_id);
		json_writer__key(w, "kind");
		json_writer__string(w, op->kind == IO_WAIT_IO ? "io" : "timer");
		json_writer__kv_u64_opt(w, "resource", (uint64_t)op->res, op->res >= 0);
		json_writer__kv_u64(w, "start_ns", op->start_ns);
		json_writer__kv_u64(w, "end_ns", op->end_ns);
		json_writer__kv_u64(w, "duration_ns", op->end_ns - op->start_ns);
		json_writer__end_object(w);
	}
	json_writer__end_array(w);
	free(ops);
}
