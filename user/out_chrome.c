// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Timeline -> Chrome trace-event JSON, one event per line.
 *
 * Events are built in a buffer written out a megabyte at a time: numbers
 * by hand (exact µs.ns decimals, never a rounded double), strings from the
 * timeline escaped by json_write_string() once each and kept (a future
 * type's name is written once per poll), keys and literals as they are.
 *
 * A flow start ("s") binds to the slice enclosing it on its thread, so
 * only wakes and spawns made inside a poll get one; its end ("f", bp "e")
 * sits 1 ns into the poll it leads to, inside that poll whatever order a
 * reader sorts equal timestamps in.  Flow ids as in out_perfetto.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "array.h"
#include "asyncscope.h"
#include "idx_map.h"
#include "io_stats.h"
#include "json_writer.h"
#include "out_chrome.h"
#include "timeline.h"

#define CH_FLUSH_AT		(1u << 20)

/* A string of the timeline and its JSON form, quotes included. */
struct ch_esc {
	const char *s;
	char *json;
	size_t len;
};

struct ch_writer {
	FILE *f;
	const struct timeline *tl;
	int err;			/* sticky */
	char *buf;			/* output not written yet */
	size_t len, cap;
	bool first;			/* no event yet: no comma */
	bool first_arg;
	struct ch_esc *esc;		/* by address: the timeline's strings do not move */
	size_t nr_esc, cap_esc;
	struct idx_map esc_map;
};

static void ch_flush(struct ch_writer *w)
{
	if (w->len && !w->err && fwrite(w->buf, 1, w->len, w->f) != w->len)
		w->err = -EIO;
	w->len = 0;
}

static void out(struct ch_writer *w, const char *s, size_t n)
{
	int err;

	if (w->err)
		return;
	err = array__grow((void **)&w->buf, &w->cap, w->len + n, 1);
	if (err) {
		w->err = err;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* A string literal, or any text that needs no escaping. */
#define out_lit(w, lit)		out(w, lit, sizeof(lit) - 1)

static void out_plain(struct ch_writer *w, const char *s)
{
	out(w, s, strlen(s));
}

static void out_u64(struct ch_writer *w, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	out(w, tmp + i, sizeof(tmp) - i);
}

/* ns as µs with three decimals, exactly */
static void out_us(struct ch_writer *w, uint64_t ns)
{
	char frac[4] = { '.', '0' + ns / 100 % 10, '0' + ns / 10 % 10, '0' + ns % 10 };

	out_u64(w, ns / 1000);
	out(w, frac, sizeof(frac));
}

static int esc_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct ch_writer *w = ctx;

	return w->esc[idx].s == key;
}

/* s, a string of the timeline, as a JSON string: escaped on first use. */
static void out_json(struct ch_writer *w, const char *s)
{
	uint64_t hash = idx_map__hash_u64((uintptr_t)s);
	struct ch_esc e = { .s = s };
	FILE *mem;
	long idx;
	int err;

	idx = idx_map__find(&w->esc_map, hash, esc_match, w, s);
	if (idx >= 0) {
		out(w, w->esc[idx].json, w->esc[idx].len);
		return;
	}
	mem = open_memstream(&e.json, &e.len);
	if (!mem) {
		w->err = -ENOMEM;
		return;
	}
	json_write_string(mem, s, strlen(s));
	err = fclose(mem) ? -ENOMEM : 0;
	if (!err)
		err = array__grow((void **)&w->esc, &w->cap_esc, w->nr_esc + 1, sizeof(*w->esc));
	if (!err)
		err = idx_map__add(&w->esc_map, hash, w->nr_esc);
	if (err) {
		free(e.json);
		w->err = err;
		return;
	}
	w->esc[w->nr_esc++] = e;
	out(w, e.json, e.len);
}

/*
 * Events start {"ph":"X","cat":"poll","name":...,"pid":...,"tid":...,"ts":...
 * (no cat for metadata, no tid for async events): this is up to the name.
 */
static void ev_start(struct ch_writer *w, char ph, const char *cat)
{
	char head[] = "{\"ph\":\"?\"";

	if (w->len >= CH_FLUSH_AT)
		ch_flush(w);
	if (!w->first)
		out_lit(w, ",");
	w->first = false;
	out_lit(w, "\n");
	head[7] = ph;
	out_plain(w, head);
	if (cat) {
		out_lit(w, ",\"cat\":\"");
		out_plain(w, cat);
		out_lit(w, "\"");
	}
}

/* The rest of the event head, after its name (tid < 0: none). */
static void ev_where(struct ch_writer *w, uint32_t pid, int64_t tid, uint64_t ts)
{
	out_lit(w, ",\"pid\":");
	out_u64(w, pid);
	if (tid >= 0) {
		out_lit(w, ",\"tid\":");
		out_u64(w, tid);
	}
	out_lit(w, ",\"ts\":");
	out_us(w, ts);
}

/* An event whose name is a literal. */
static void ev_lit(struct ch_writer *w, char ph, const char *cat, const char *name, uint32_t pid,
		   int64_t tid, uint64_t ts)
{
	ev_start(w, ph, cat);
	out_lit(w, ",\"name\":\"");
	out_plain(w, name);
	out_lit(w, "\"");
	ev_where(w, pid, tid, ts);
}

/* An event named after a task: its future type, or "task ID". */
static void ev_task(struct ch_writer *w, char ph, const char *cat, const struct tl_task *t,
		    int64_t tid, uint64_t ts)
{
	const char *type = timeline__task_name(w->tl, t);

	ev_start(w, ph, cat);
	out_lit(w, ",\"name\":");
	if (type) {
		out_json(w, type);
	} else {
		out_lit(w, "\"task ");
		out_u64(w, t->id);
		out_lit(w, "\"");
	}
	ev_where(w, t->pid, tid, ts);
}

static void args_begin(struct ch_writer *w)
{
	out_lit(w, ",\"args\":{");
	w->first_arg = true;
}

static void args_end(struct ch_writer *w)
{
	out_lit(w, "}}");
}

static void arg_key(struct ch_writer *w, const char *key)
{
	if (!w->first_arg)
		out_lit(w, ",");
	w->first_arg = false;
	out_lit(w, "\"");
	out_plain(w, key);
	out_lit(w, "\":");
}

static void arg_u64(struct ch_writer *w, const char *key, uint64_t v)
{
	arg_key(w, key);
	out_u64(w, v);
}

/* A literal value. */
static void arg_lit(struct ch_writer *w, const char *key, const char *v)
{
	arg_key(w, key);
	out_lit(w, "\"");
	out_plain(w, v);
	out_lit(w, "\"");
}

/* A string of the timeline. */
static void arg_json(struct ch_writer *w, const char *key, const char *v)
{
	arg_key(w, key);
	out_json(w, v);
}

static void arg_true(struct ch_writer *w, const char *key)
{
	arg_key(w, key);
	out_lit(w, "true");
}

static void write_names(struct ch_writer *w)
{
	const struct timeline *tl = w->tl;
	size_t i;

	for (i = 0; i < timeline__nr_procs(tl); i++) {
		const struct tl_proc *p = timeline__proc(tl, i);

		if (!p->name)
			continue;
		ev_lit(w, 'M', NULL, "process_name", p->pid, 0, 0);
		args_begin(w);
		arg_json(w, "name", p->name);
		args_end(w);
	}
	for (i = 0; i < timeline__nr_threads(tl); i++) {
		const struct tl_thread *t = timeline__thread(tl, i);

		if (!t->name)
			continue;
		ev_lit(w, 'M', NULL, "thread_name", t->pid, t->tid, 0);
		args_begin(w);
		arg_json(w, "name", t->name);
		args_end(w);
	}
}

/* --- thread events: polls, wakes, spawns, flows --- */

static uint64_t spawn_flow(const struct timeline *tl, size_t task)
{
	return timeline__nr_wakes(tl) + task + 1;
}

/* A spawn made inside a poll, of a task that was polled: it gets a flow. */
static bool spawn_has_flow(const struct tl_task *t)
{
	return (t->flags & TL_TASK_SPAWN_SEEN) && t->spawn_thread != TL_NONE && t->parent_id &&
	       t->nr_polls;
}

/* A wake made inside a poll that made its task runnable: it gets a flow. */
static bool wake_has_flow(const struct tl_wake *wk)
{
	return (wk->flags & TL_WAKE_CAUSED) && wk->waker_id;
}

static void flow_ev(struct ch_writer *w, char ph, const char *name, uint64_t id,
		    const struct tl_thread *th, uint64_t ts)
{
	ev_lit(w, ph, "flow", name, th->pid, th->tid, ts);
	if (ph == 'f')
		out_lit(w, ",\"bp\":\"e\"");
	out_lit(w, ",\"id\":");
	out_u64(w, id);
	out_lit(w, "}");
}

static void flow_into(struct ch_writer *w, const char *name, uint64_t id, const struct tl_poll *p)
{
	uint64_t ts = p->start_ns + (p->end_ns > p->start_ns ? 1 : 0);

	flow_ev(w, 'f', name, id, timeline__thread(w->tl, p->thread), ts);
}

static const char *poll_result(const struct tl_poll *p)
{
	if (p->flags & TL_POLL_RUNNING)
		return "Running";
	return p->flags & TL_POLL_READY ? "Ready" : "Pending";
}

static void write_poll(struct ch_writer *w, const struct tl_poll *p)
{
	const struct timeline *tl = w->tl;
	const struct tl_task *t = timeline__task(tl, p->task);

	ev_task(w, 'X', "poll", t, timeline__thread(tl, p->thread)->tid, p->start_ns);
	out_lit(w, ",\"dur\":");
	out_us(w, p->end_ns - p->start_ns);
	args_begin(w);
	arg_u64(w, "task", t->id);
	arg_u64(w, "poll", p->poll_no);
	arg_lit(w, "result", poll_result(p));
	if (p->flags & TL_POLL_NESTED)
		arg_true(w, "nested");
	if (p->flags & TL_POLL_CANCELLED)
		arg_true(w, "cancelled");
	args_end(w);

	if (p->wake && wake_has_flow(timeline__wake(tl, p->wake - 1)))
		flow_into(w, "wake", p->wake, p);
	if (p->poll_no == 1 && spawn_has_flow(t))
		flow_into(w, "spawn", spawn_flow(tl, p->task), p);
}

static void write_wake(struct ch_writer *w, size_t idx)
{
	const struct timeline *tl = w->tl;
	const struct tl_wake *wk = timeline__wake(tl, idx);
	const struct tl_thread *th = timeline__thread(tl, wk->thread);

	ev_lit(w, 'i', "wake", wk->flags & TL_WAKE_SELF ? "self-wake" : "wake", th->pid, th->tid,
	       wk->ts_ns);
	out_lit(w, ",\"s\":\"t\"");
	args_begin(w);
	arg_u64(w, "task", timeline__task(tl, wk->task)->id);
	if (wk->waker_id)
		arg_u64(w, "by_task", wk->waker_id);
	arg_lit(w, "op", wk->flags & TL_WAKE_BY_REF ? "wake_by_ref" : "wake_by_val");
	if (tl_wake__source(wk) >= 0)
		arg_lit(w, "source", wake_source_name(tl_wake__source(wk)));
	args_end(w);
	if (wake_has_flow(wk))
		flow_ev(w, 's', "wake", idx + 1, th, wk->ts_ns);
}

/*
 * A socket operation: an instant on the thread that made it, named by the
 * operation, with the task, the bytes or the error, the fd and the socket
 * (as the Perfetto trace has it).
 */
static void write_sock(struct ch_writer *w, size_t idx)
{
	const struct timeline *tl = w->tl;
	const struct tl_sock *so = timeline__sock(tl, idx);
	const struct tl_thread *th = timeline__thread(tl, so->thread);
	const struct io_stats *io = timeline__io(tl);
	const struct io_resource *r = io && so->res != TL_NONE ? io_stats__resource(io, so->res)
							      : NULL;
	const char *name = tl_sock_op_name(so->op);
	char label[2 * IO_ADDR_BUF + 16], local[IO_ADDR_BUF], peer[IO_ADDR_BUF];

	if (!name)
		return;
	ev_lit(w, 'i', "io", name, th->pid, th->tid, so->ts_ns);
	out_lit(w, ",\"s\":\"t\"");
	args_begin(w);
	if (so->task != TL_NONE)
		arg_u64(w, "task", timeline__task(tl, so->task)->id);
	if (so->ret < 0) {
		arg_lit(w, "result", so->ret == -11 || so->ret == -115 ? "would block" : "error");
		arg_u64(w, "errno", (uint64_t)-so->ret);
	} else if (so->op == AS_SOCK_RECV || so->op == AS_SOCK_SEND) {
		arg_u64(w, "bytes", (uint64_t)so->ret);
	}
	if (so->fd >= 0)
		arg_u64(w, "fd", (uint64_t)so->fd);
	if (r) {
		io_resource__fmt_addr(r, false, local, sizeof(local));
		io_resource__fmt_addr(r, true, peer, sizeof(peer));
		snprintf(label, sizeof(label), "%s %s -> %s", io_resource__proto_name(r), local, peer);
		arg_json(w, "socket", label);
	}
	args_end(w);
}

static void write_spawn(struct ch_writer *w, size_t idx)
{
	const struct timeline *tl = w->tl;
	const struct tl_task *t = timeline__task(tl, idx);
	const struct tl_thread *th;

	if (!(t->flags & TL_TASK_SPAWN_SEEN) || t->spawn_thread == TL_NONE)
		return;
	th = timeline__thread(tl, t->spawn_thread);
	ev_lit(w, 'i', "spawn", "spawn", th->pid, th->tid, t->spawn_ns);
	out_lit(w, ",\"s\":\"t\"");
	args_begin(w);
	arg_u64(w, "task", t->id);
	if (t->parent_id)
		arg_u64(w, "parent", t->parent_id);
	if (t->location)
		arg_json(w, "location", t->location);
	args_end(w);
	if (spawn_has_flow(t))
		flow_ev(w, 's', "spawn", spawn_flow(tl, idx), th, t->spawn_ns);
}

/* --- task lives: nestable async events, one id per task --- */

static void async_id(struct ch_writer *w, const struct tl_task *t)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t i = sizeof(tmp);
	uint64_t v = t->id;

	do {
		tmp[--i] = hex[v & 15];
		v >>= 4;
	} while (v);
	out_lit(w, ",\"id2\":{\"local\":\"0x");
	out(w, tmp + i, sizeof(tmp) - i);
	out_lit(w, "\"}");
}

struct life_ctx {
	struct ch_writer *w;
	const struct tl_task *t;
};

static int seg_write(void *ctx, const struct tl_seg *seg)
{
	struct life_ctx *lc = ctx;
	const char *name = tl_seg_state_name(seg->state);

	ev_lit(lc->w, 'b', "task", name, lc->t->pid, -1, seg->start_ns);
	async_id(lc->w, lc->t);
	out_lit(lc->w, "}");
	ev_lit(lc->w, 'e', "task", name, lc->t->pid, -1, seg->end_ns);
	async_id(lc->w, lc->t);
	out_lit(lc->w, "}");
	return lc->w->err;
}

static void write_life(struct ch_writer *w, size_t idx)
{
	const struct tl_task *t = timeline__task(w->tl, idx);
	struct life_ctx lc = { .w = w, .t = t };
	int err;

	ev_task(w, 'b', "task", t, -1, t->created_ns);
	async_id(w, t);
	args_begin(w);
	arg_u64(w, "task", t->id);
	arg_lit(w, "kind", tl_task__kind_name(t));
	arg_lit(w, "origin", tl_task__origin(t));
	arg_u64(w, "polls", t->nr_polls);
	arg_lit(w, "state", t->flags & TL_TASK_CLOSED ? "done" : "open");
	if (t->parent_id)
		arg_u64(w, "parent", t->parent_id);
	if (t->location)
		arg_json(w, "location", t->location);
	args_end(w);
	err = timeline__task_segments(w->tl, idx, seg_write, &lc);
	if (err && !w->err)
		w->err = err;
	ev_task(w, 'e', "task", t, -1, t->closed_ns);
	async_id(w, t);
	out_lit(w, "}");
}

int out_chrome__write(FILE *f, const struct timeline *tl)
{
	struct ch_writer w = { .f = f, .tl = tl, .first = true };
	size_t i;
	int err;

	if (!f || !tl || !timeline__is_finished(tl))
		return -EINVAL;
	idx_map__init(&w.esc_map);
	out_lit(&w, "{\"traceEvents\":[");
	write_names(&w);
	for (i = 0; i < timeline__nr_polls(tl) && !w.err; i++)
		write_poll(&w, timeline__poll(tl, timeline__poll_by_thread(tl, i)));
	for (i = 0; i < timeline__nr_wakes(tl) && !w.err; i++)
		write_wake(&w, i);
	for (i = 0; i < timeline__nr_socks(tl) && !w.err; i++)
		write_sock(&w, i);
	for (i = 0; i < timeline__nr_tasks(tl) && !w.err; i++)
		write_spawn(&w, i);
	for (i = 0; i < timeline__nr_tasks(tl) && !w.err; i++)
		write_life(&w, i);
	out_lit(&w, "\n],\"displayTimeUnit\":\"ns\"}\n");
	ch_flush(&w);

	err = w.err;
	if (!err && (fflush(f) || ferror(f)))
		err = -EIO;
	free(w.buf);
	for (i = 0; i < w.nr_esc; i++)
		free(w.esc[i].json);
	free(w.esc);
	idx_map__release(&w.esc_map);
	return err;
}
