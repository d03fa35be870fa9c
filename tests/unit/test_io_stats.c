// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* io_stats: sockets, waits and wake sources from hand-made records with exact times. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "correlator.h"
#include "io_stats.h"
#include "out_perfetto.h"
#include "rec_format.h"
#include "timeline.h"

#define PID		4242
#define T_WORKER	10	/* a runtime worker thread */
#define T_WORKER2	11
#define T_FOREIGN	99	/* a thread that never polled a task */
#define TYPE_ASYNC	1
#define TYPE_BLOCKING	2
#define SK		0xffff888012340000ull

struct fx {
	struct correlator *c;
	struct io_stats *io;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct io_stats_opts o = { .sz = sizeof(o) };

	assert_non_null(f);
	f->c = correlator__new(NULL);
	assert_non_null(f->c);
	assert_int_equal(correlator__set_type(f->c, PID, TYPE_ASYNC, "app::task", AS_TASK_ASYNC), 0);
	assert_int_equal(correlator__set_type(f->c, PID, TYPE_BLOCKING, "blocking", AS_TASK_BLOCKING),
			 0);
	o.corr = f->c;
	f->io = io_stats__new(&o);
	assert_non_null(f->io);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	io_stats__free(f->io);
	correlator__free(f->c);
	free(f);
	return 0;
}

/* Both consumers, as record and replay feed them. */
static void feed(struct fx *f, const void *rec, size_t size)
{
	correlator__feed(f->c, rec, size);
	assert_int_equal(io_stats__feed(f->io, rec, size), 0);
}

static struct as_event_hdr hdr(unsigned int type, size_t size, uint32_t tid, uint64_t ts)
{
	return (struct as_event_hdr){ .type = type, .size = size, .pid = PID, .tid = tid, .ts_ns = ts };
}

static void poll_rec(struct fx *f, uint64_t task, uint32_t type, uint32_t tid, uint64_t s,
		     uint64_t e)
{
	struct as_ev_poll p = { .h = hdr(AS_EV_POLL, sizeof(p), tid, e), .task_id = task,
				.start_ns = s, .type_idx = type };

	feed(f, &p, sizeof(p));
}

static void wake(struct fx *f, uint64_t task, uint64_t cur, uint32_t tid, uint64_t ts)
{
	struct as_ev_waker w = { .h = hdr(AS_EV_WAKER, sizeof(w), tid, ts), .task_id = task,
				 .cur_task_id = cur, .op = AS_WAKE_BY_VAL, .type_idx = TYPE_ASYNC };

	feed(f, &w, sizeof(w));
}

static void phase(struct fx *f, uint32_t ph, uint32_t tid, uint64_t ts)
{
	struct as_ev_runtime r = { .h = hdr(AS_EV_RUNTIME, sizeof(r), tid, ts), .phase = ph };

	feed(f, &r, sizeof(r));
}

/* A TCP socket of 127.0.0.1:lport <-> 127.0.0.1:rport, identified by ino (or sk when ino is 0). */
static struct as_ev_sock sock_rec(uint64_t task, uint32_t tid, uint64_t ts, uint32_t op, int64_t ret,
				  uint64_t ino, uint16_t lport, uint16_t rport)
{
	struct as_ev_sock e = { .h = hdr(AS_EV_SOCK, sizeof(e), tid, ts), .task_id = task,
				.sk = SK + ino, .ino = ino, .ret = ret, .fd = (int32_t)(ino % 100),
				.op = op, .family = 2, .proto = 6, .type = 1, .lport = lport,
				.rport = rport };

	e.laddr[0] = 127;
	e.laddr[3] = 1;
	if (rport) {
		e.raddr[0] = 127;
		e.raddr[3] = 1;
	}
	return e;
}

static void sock(struct fx *f, uint64_t task, uint32_t tid, uint64_t ts, uint32_t op, int64_t ret,
		 uint64_t ino, uint16_t lport, uint16_t rport)
{
	struct as_ev_sock e = sock_rec(task, tid, ts, op, ret, ino, lport, rport);

	feed(f, &e, sizeof(e));
}

static const struct io_resource *res_by_ino(struct fx *f, uint64_t ino)
{
	for (size_t i = 0; i < io_stats__nr_resources(f->io); i++)
		if (io_stats__resource(f->io, i)->ino == ino)
			return io_stats__resource(f->io, i);
	return NULL;
}

static void test_bytes_and_ops(void **state)
{
	struct fx *f = *state;
	const struct io_resource *r;
	const struct io_task *t;
	char buf[IO_ADDR_BUF];

	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 50, 60);
	sock(f, 5, T_WORKER, 100, AS_SOCK_CONNECT, -115, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 200, AS_SOCK_SEND, 64, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 210, AS_SOCK_SEND, 36, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 220, AS_SOCK_RECV, -11, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 300, AS_SOCK_RECV, 100, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 310, AS_SOCK_RECV, 0, 7, 40000, 8080);
	sock(f, 5, T_WORKER, 320, AS_SOCK_RECV, -104, 7, 40000, 8080);
	/* a short record: the socket's addresses stay as described */
	{
		struct as_ev_sock_op o = { .h = hdr(AS_EV_SOCK_OP, sizeof(o), T_WORKER, 315),
					   .task_id = 5, .ino = 7, .ret = 0, .fd = 7,
					   .op = AS_SOCK_RECV };

		feed(f, &o, sizeof(o));
		o.h.ts_ns = 316;
		o.ret = -11;
		feed(f, &o, sizeof(o));
	}
	/* the runtime's own socket operation (no task) counts for the socket only */
	sock(f, 0, T_WORKER, 330, AS_SOCK_RECV, 8, 7, 40000, 8080);
	/* after close the kernel clears the local port: the resource keeps it */
	sock(f, 5, T_WORKER, 400, AS_SOCK_CLOSE, 0, 7, 0, 8080);

	t = io_stats__task(f->io, PID, 5);
	assert_non_null(t);
	assert_true(t->seen_io);
	assert_int_equal(t->bytes_out, 100);
	assert_int_equal(t->ops_out, 2);
	assert_int_equal(t->bytes_in, 100);
	assert_int_equal(t->ops_in, 3);	/* the EOFs are operations */
	assert_int_equal(t->would_block_in, 2);
	assert_int_equal(t->would_block_out, 1);	/* the connect in progress */
	assert_int_equal(t->connects, 1);
	assert_int_equal(t->closes, 1);
	assert_int_equal(t->errors, 1);

	assert_int_equal(io_stats__nr_resources(f->io), 1);
	r = res_by_ino(f, 7);
	assert_non_null(r);
	assert_int_equal(r->bytes_in, 108);
	assert_int_equal(r->bytes_out, 100);
	assert_int_equal(r->would_block, 3);
	assert_int_equal(r->first_ns, 100);
	assert_int_equal(r->last_ns, 400);
	assert_int_equal(r->closed_ns, 400);
	assert_int_equal(r->nr_tasks, 1);
	assert_int_equal(r->tasks[0], 5);
	assert_string_equal(io_resource__proto_name(r), "tcp");
	assert_string_equal(io_resource__fmt_addr(r, false, buf, sizeof(buf)), "127.0.0.1:40000");
	assert_string_equal(io_resource__fmt_addr(r, true, buf, sizeof(buf)), "127.0.0.1:8080");
	assert_false(io_stats__empty(f->io));
}

static void test_resource_identity(void **state)
{
	struct fx *f = *state;
	struct as_ev_sock e;

	/* the same struct sock address after a close is another socket */
	sock(f, 5, T_WORKER, 100, AS_SOCK_SEND, 1, 0, 1000, 2000);
	sock(f, 5, T_WORKER, 110, AS_SOCK_CLOSE, 0, 0, 1000, 2000);
	sock(f, 5, T_WORKER, 120, AS_SOCK_SEND, 2, 0, 1001, 2000);
	assert_int_equal(io_stats__nr_resources(f->io), 2);
	assert_int_equal(io_stats__resource(f->io, 0)->bytes_out, 1);
	assert_int_equal(io_stats__resource(f->io, 1)->bytes_out, 2);
	assert_int_equal(io_stats__resource(f->io, 1)->lport, 1001);

	/* an IPv6 peer, and a task list that overflows */
	e = sock_rec(1, T_WORKER, 130, AS_SOCK_RECV, 3, 77, 443, 51000);
	e.family = 10;
	memset(e.laddr, 0, sizeof(e.laddr));
	e.laddr[15] = 1;
	feed(f, &e, sizeof(e));
	for (uint64_t id = 2; id <= IO_RES_MAX_TASKS + 3; id++) {
		e.task_id = id;
		feed(f, &e, sizeof(e));
	}
	{
		const struct io_resource *r = res_by_ino(f, 77);
		char buf[IO_ADDR_BUF];

		assert_string_equal(io_resource__proto_name(r), "tcp6");
		assert_string_equal(io_resource__fmt_addr(r, false, buf, sizeof(buf)), "[::1]:443");
		assert_int_equal(r->nr_tasks, IO_RES_MAX_TASKS);
		assert_int_equal(r->more_tasks, 3);
	}
}

/* epoll returned, then the driver wakes task 5; its next poll decides the wait. */
static void io_wake(struct fx *f, uint64_t task, uint32_t tid, uint64_t epoll_ts, uint64_t ts)
{
	phase(f, AS_RT_IO_EVENTS, tid, epoll_ts);
	wake(f, task, 0, tid, ts);
	phase(f, AS_RT_DRIVER_DONE, tid, ts + 1);
}

static void test_io_wait_would_block(void **state)
{
	struct fx *f = *state;
	const struct io_wait *w;
	const struct io_task *t;
	const struct io_resource *r;

	/* poll 1: the read would block, the task returns Pending */
	sock(f, 5, T_WORKER, 110, AS_SOCK_RECV, -11, 7, 40000, 8080);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 100, 120);
	/* readiness 40 ms later on another worker */
	io_wake(f, 5, T_WORKER2, 40000100, 40000110);
	/* poll 2: first writes to another socket, then reads the one it waited on */
	sock(f, 5, T_WORKER2, 40000200, AS_SOCK_SEND, 5, 8, 40001, 9090);
	sock(f, 5, T_WORKER2, 40000210, AS_SOCK_RECV, 64, 7, 40000, 8080);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER2, 40000150, 40000300);

	assert_int_equal(io_stats__nr_waits(f->io), 1);
	w = io_stats__wait(f->io, 0);
	assert_int_equal(w->kind, IO_WAIT_IO);
	assert_int_equal(w->task_id, 5);
	/* from the would-block, not the end of the poll */
	assert_int_equal(w->start_ns, 110);
	assert_int_equal(w->end_ns, 40000110);
	r = io_stats__resource(f->io, (size_t)w->res);
	assert_int_equal(r->ino, 7);
	assert_int_equal(r->waits, 1);
	assert_int_equal(r->wait_ns, 40000000);
	t = io_stats__task(f->io, PID, 5);
	assert_int_equal(t->io_waits, 1);
	assert_int_equal(t->io_wait_ns, 40000000);
	assert_int_equal(t->wakes[WAKE_SRC_IO], 1);
	assert_int_equal(io_task__top_resource(t), w->res);
	assert_int_equal(io_stats__counts(f->io)->io_waits_armed, 1);
}

static void test_io_wait_without_would_block(void **state)
{
	struct fx *f = *state;
	const struct io_wait *w;

	/* tokio knew the socket was not ready: Pending without a system call */
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER, 100, 120);
	io_wake(f, 6, T_WORKER, 5000, 5010);
	sock(f, 6, T_WORKER, 5100, AS_SOCK_RECV, 10, 9, 1234, 5678);
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER, 5050, 5200);

	assert_int_equal(io_stats__nr_waits(f->io), 1);
	w = io_stats__wait(f->io, 0);
	assert_int_equal(w->start_ns, 120);
	assert_int_equal(w->end_ns, 5010);
	assert_int_equal(io_stats__resource(f->io, (size_t)w->res)->ino, 9);
	assert_int_equal(io_stats__counts(f->io)->io_waits_next_op, 1);

	/* no operation after the wake: the last one before it names the socket */
	io_wake(f, 6, T_WORKER, 9000, 9010);
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER, 9050, 9100);
	assert_int_equal(io_stats__nr_waits(f->io), 2);
	w = io_stats__wait(f->io, 1);
	assert_int_equal(w->start_ns, 5200);
	assert_int_equal(w->end_ns, 9010);
	assert_int_equal(io_stats__resource(f->io, (size_t)w->res)->ino, 9);
	assert_int_equal(io_stats__counts(f->io)->io_waits_last_op, 1);

	/* a would-block retried at once with success is no wait */
	sock(f, 6, T_WORKER, 9200, AS_SOCK_RECV, -11, 9, 1234, 5678);
	sock(f, 6, T_WORKER, 9210, AS_SOCK_RECV, 3, 9, 1234, 5678);
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER, 9150, 9300);
	assert_int_equal(io_stats__nr_waits(f->io), 2);
}

static void test_woken_during_poll(void **state)
{
	struct fx *f = *state;

	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 100, 120);
	/* the wake lands while the next poll runs; its record comes first */
	io_wake(f, 5, T_WORKER2, 200, 250);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 240, 300);
	assert_int_equal(io_stats__nr_waits(f->io), 0);
	assert_int_equal(io_stats__counts(f->io)->woken_in_poll, 1);

	/* a wake just after a poll whose record comes later still waits for the next poll */
	wake(f, 5, 77, T_WORKER2, 410);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 350, 400);
	phase(f, AS_RT_TIMERS, T_WORKER2, 900);
	wake(f, 5, 0, T_WORKER2, 1000);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 500, 600);
	/* the task wake at 410 resumed it: no timer wait from the later wake */
	assert_int_equal(io_stats__nr_waits(f->io), 0);
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 1100, 1200);
	assert_int_equal(io_stats__nr_waits(f->io), 1);
	assert_int_equal(io_stats__wait(f->io, 0)->kind, IO_WAIT_TIMER);
	assert_int_equal(io_stats__wait(f->io, 0)->start_ns, 600);
	assert_int_equal(io_stats__wait(f->io, 0)->end_ns, 1000);
}

static void test_wake_sources(void **state)
{
	struct fx *f = *state;
	const struct io_task *t;

	/* tasks 5 (async), 6 (async), 8 (blocking); the workers poll them */
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, 100, 110);
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER2, 100, 110);
	poll_rec(f, 8, TYPE_BLOCKING, 50, 100, 110);

	wake(f, 5, 5, T_WORKER, 105);			/* self, in its poll */
	wake(f, 5, 6, T_WORKER2, 200);			/* task 6 */
	wake(f, 5, 6, T_WORKER2, 210);
	wake(f, 5, 8, 50, 220);				/* a blocking task */
	wake(f, 5, 0, T_FOREIGN, 230);			/* a thread outside the runtime */
	phase(f, AS_RT_IO_EVENTS, T_WORKER2, 240);
	wake(f, 5, 0, T_WORKER2, 241);			/* the I/O driver */
	phase(f, AS_RT_DRIVER_DONE, T_WORKER2, 242);
	phase(f, AS_RT_TIMERS, T_WORKER2, 243);
	wake(f, 5, 0, T_WORKER2, 244);			/* the time driver */
	phase(f, AS_RT_DRIVER_DONE, T_WORKER2, 245);
	wake(f, 5, 0, T_WORKER2, 246);			/* deferred, but 5 last ran elsewhere */
	wake(f, 6, 0, T_WORKER2, 247);			/* deferred: 6 yielded on this thread */
	/* a poll after the phase: the phase is over for this thread */
	phase(f, AS_RT_IO_EVENTS, T_WORKER, 250);
	poll_rec(f, 7, TYPE_ASYNC, T_WORKER, 260, 270);
	wake(f, 5, 0, T_WORKER, 280);			/* 5 last ran here: deferred */

	t = io_stats__task(f->io, PID, 5);
	assert_int_equal(t->wakes[WAKE_SRC_SELF], 2);
	assert_int_equal(t->wakes[WAKE_SRC_TASK], 2);
	assert_int_equal(t->wakes[WAKE_SRC_BLOCKING], 1);
	assert_int_equal(t->wakes[WAKE_SRC_EXTERNAL], 1);
	assert_int_equal(t->wakes[WAKE_SRC_IO], 1);
	assert_int_equal(t->wakes[WAKE_SRC_TIMER], 1);
	assert_int_equal(t->wakes[WAKE_SRC_OTHER], 1);
	assert_int_equal(t->nr_wakers, 2);
	assert_int_equal(t->wakers[0].task_id, 6);
	assert_int_equal(t->wakers[0].wakes, 2);
	assert_int_equal(t->wakers[1].task_id, 8);
	t = io_stats__task(f->io, PID, 6);
	assert_int_equal(t->wakes[WAKE_SRC_SELF], 1);
	assert_int_equal(io_stats__counts(f->io)->wakes[WAKE_SRC_SELF], 3);
	assert_string_equal(wake_source_name(WAKE_SRC_EXTERNAL), "external");
}

static void test_accept_and_listener(void **state)
{
	struct fx *f = *state;
	const struct io_resource *l;
	const struct io_task *t;

	poll_rec(f, 3, TYPE_ASYNC, T_WORKER, 10, 20);
	io_wake(f, 3, T_WORKER, 1000, 1001);
	/* accept records are the listener's; ret is the new fd */
	sock(f, 3, T_WORKER, 1100, AS_SOCK_ACCEPT, 12, 4, 8080, 0);
	sock(f, 3, T_WORKER, 1110, AS_SOCK_ACCEPT, -11, 4, 8080, 0);
	poll_rec(f, 3, TYPE_ASYNC, T_WORKER, 1050, 1200);
	l = res_by_ino(f, 4);
	assert_int_equal(l->accepts, 1);
	assert_int_equal(l->would_block, 1);
	assert_int_equal(l->waits, 1);
	t = io_stats__task(f->io, PID, 3);
	assert_int_equal(t->accepts, 1);
	assert_int_equal(t->would_block_in, 1);
	assert_int_equal(t->io_wait_ns, 1001 - 20);
	/* the would-block after the wake is the next wait, from its own time */
	io_wake(f, 3, T_WORKER, 3000, 3001);
	poll_rec(f, 3, TYPE_ASYNC, T_WORKER, 3050, 3100);
	assert_int_equal(io_stats__nr_waits(f->io), 2);
	assert_int_equal(io_stats__wait(f->io, 1)->start_ns, 1110);
	assert_int_equal(io_stats__wait(f->io, 1)->end_ns, 3001);
}

/* A long trace keeps every wait in the stats but lists only max_waits: the longest. */
static void test_waits_bounded(void **state)
{
	struct io_stats_opts o = { .sz = sizeof(o), .max_waits = 4, .max_tasks = 2 };
	struct fx *f = *state;
	uint64_t ts = 1000, durs[10] = { 5, 90, 7, 60, 3, 80, 1, 70, 2, 50 };
	const struct io_task *t;

	io_stats__free(f->io);
	o.corr = f->c;
	f->io = io_stats__new(&o);
	assert_non_null(f->io);
	for (int i = 0; i < 10; i++) {
		poll_rec(f, 5, TYPE_ASYNC, T_WORKER, ts, ts + 1);
		phase(f, AS_RT_TIMERS, T_WORKER2, ts + 1);
		wake(f, 5, 0, T_WORKER2, ts + 1 + durs[i]);
		ts += 1000;
	}
	poll_rec(f, 5, TYPE_ASYNC, T_WORKER, ts, ts + 1);
	t = io_stats__task(f->io, PID, 5);
	assert_int_equal(t->timer_waits, 10);
	assert_int_equal(t->timer_wait_ns, 368);
	assert_int_equal(t->timer_wait_max_ns, 90);
	assert_int_equal(io_stats__counts(f->io)->waits, 10);
	assert_int_equal(io_stats__nr_waits(f->io), 4);
	for (size_t i = 0; i < 4; i++) {
		uint64_t d = io_stats__wait(f->io, i)->end_ns - io_stats__wait(f->io, i)->start_ns;

		assert_true(d == 90 || d == 80 || d == 70 || d == 60);
	}
	/* tasks past max_tasks are not kept, and their records are counted */
	poll_rec(f, 6, TYPE_ASYNC, T_WORKER, ts, ts + 1);
	poll_rec(f, 7, TYPE_ASYNC, T_WORKER, ts, ts + 1);
	sock(f, 7, T_WORKER, ts + 5, AS_SOCK_SEND, 10, 3, 1, 2);
	assert_null(io_stats__task(f->io, PID, 7));
	assert_int_equal(io_stats__resource(f->io, 0)->bytes_out, 10);
	assert_int_equal(io_stats__counts(f->io)->over_limit_records, 2);
}

static bool has_bytes(const char *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s)) != NULL;
}

/*
 * The timeline with an io_stats of its own (no correlator: spawn records
 * tell the blocking task), as convert builds it: wakes know their source,
 * socket operations their task and socket, and the Perfetto trace says so.
 */
static void test_timeline_io(void **state)
{
	struct timeline *tl = timeline__new();
	struct io_stats *io = io_stats__new(NULL);
	struct as_ev_spawn sp = { .h = hdr(AS_EV_SPAWN, sizeof(sp), 50, 10), .task_id = 8,
				  .kind = AS_TASK_BLOCKING, .type_idx = TYPE_BLOCKING };
	struct as_ev_sock e = sock_rec(5, T_WORKER, 150, AS_SOCK_SEND, 42, 7, 40000, 8080);
	const struct tl_sock *so;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(tl);
	assert_non_null(io);
	timeline__set_io(tl, io);
	assert_int_equal(timeline__feed(tl, &sp, sizeof(sp)), 0);
	{
		struct as_ev_poll p = { .h = hdr(AS_EV_POLL, sizeof(p), T_WORKER, 200), .task_id = 5,
					.start_ns = 100, .type_idx = TYPE_ASYNC };
		struct as_ev_waker w = { .h = hdr(AS_EV_WAKER, sizeof(w), 50, 300), .task_id = 5,
					 .cur_task_id = 8, .op = AS_WAKE_BY_VAL };
		struct as_ev_poll p2 = { .h = hdr(AS_EV_POLL, sizeof(p2), T_WORKER, 500), .task_id = 5,
					 .start_ns = 400, .type_idx = TYPE_ASYNC };

		assert_int_equal(timeline__feed(tl, &e, sizeof(e)), 0);
		assert_int_equal(timeline__feed(tl, &p, sizeof(p)), 0);
		assert_int_equal(timeline__feed(tl, &w, sizeof(w)), 0);
		assert_int_equal(timeline__feed(tl, &p2, sizeof(p2)), 0);
	}
	assert_int_equal(timeline__finish(tl, 600), 0);
	assert_int_equal(timeline__nr_wakes(tl), 1);
	assert_int_equal(tl_wake__source(timeline__wake(tl, 0)), WAKE_SRC_BLOCKING);
	assert_int_equal(timeline__nr_socks(tl), 1);
	so = timeline__sock(tl, 0);
	assert_int_equal(timeline__task(tl, so->task)->id, 5);
	assert_int_equal(so->ret, 42);
	assert_int_equal(io_stats__resource(io, so->res)->lport, 40000);
	assert_int_equal(io_stats__task(io, PID, 5)->wakes[WAKE_SRC_BLOCKING], 1);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(out_perfetto__write(f, tl), 0);
	fclose(f);
	assert_true(has_bytes(buf, len, "blocking wake"));
	assert_true(has_bytes(buf, len, "send"));
	assert_true(has_bytes(buf, len, "tcp 127.0.0.1:40000 -> 127.0.0.1:8080"));
	free(buf);
	timeline__free(tl);
	io_stats__free(io);
}

/* Socket and runtime records survive the recording format unchanged. */
static void test_rec_roundtrip(void **state)
{
	struct as_ev_sock e = sock_rec(5, T_WORKER, 150, AS_SOCK_RECV, -11, 7, 40000, 8080);
	struct as_ev_runtime rt = { .h = hdr(AS_EV_RUNTIME, sizeof(rt), T_WORKER, 160),
				    .phase = AS_RT_TIMERS, .value = -4 };
	Asyncscope__Event ev = ASYNCSCOPE__EVENT__INIT, ev2 = ASYNCSCOPE__EVENT__INIT;
	union as_record out;
	size_t size;
	uint8_t *buf;
	Asyncscope__Event *back;

	(void)state;
	e.family = 10;
	e.laddr[15] = 1;
	assert_int_equal(rec_event__from_record(&e, sizeof(e), &ev), 0);
	/* through the wire format too */
	buf = malloc(asyncscope__event__get_packed_size(&ev));
	assert_non_null(buf);
	back = asyncscope__event__unpack(NULL, asyncscope__event__pack(&ev, buf), buf);
	assert_non_null(back);
	assert_int_equal(rec_event__to_record(back, &out, &size), 0);
	assert_int_equal(size, sizeof(e));
	assert_memory_equal(&out, &e, sizeof(e));
	asyncscope__event__free_unpacked(back, NULL);
	free(buf);

	assert_int_equal(rec_event__from_record(&rt, sizeof(rt), &ev2), 0);
	assert_int_equal(rec_event__to_record(&ev2, &out, &size), 0);
	assert_int_equal(size, sizeof(rt));
	assert_memory_equal(&out, &rt, sizeof(rt));
	{
		struct as_ev_sock_op o = { .h = hdr(AS_EV_SOCK_OP, sizeof(o), T_WORKER, 170),
					   .task_id = 9, .ino = 7, .ret = -11, .fd = 3,
					   .op = AS_SOCK_SEND };
		Asyncscope__Event ev3 = ASYNCSCOPE__EVENT__INIT;

		assert_int_equal(rec_event__from_record(&o, sizeof(o), &ev3), 0);
		assert_int_equal(rec_event__to_record(&ev3, &out, &size), 0);
		assert_int_equal(size, sizeof(o));
		assert_memory_equal(&out, &o, sizeof(o));
	}
	/* out of range fields are refused */
	ev.lport = 70000;
	assert_int_equal(rec_event__to_record(&ev, &out, &size), -EINVAL);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	struct as_ev_sock e = sock_rec(5, T_WORKER, 100, AS_SOCK_SEND, 1, 7, 1, 2);
	struct as_ev_poll p = { .h = hdr(AS_EV_POLL, sizeof(p), T_WORKER, 10) };

	assert_int_equal(io_stats__feed(f->io, &e, sizeof(e) - 8), -EINVAL);	/* short */
	e.op = 42;
	assert_int_equal(io_stats__feed(f->io, &e, sizeof(e)), -EINVAL);	/* unknown op */
	e.op = AS_SOCK_SEND;
	e.h.ts_ns = 0;
	assert_int_equal(io_stats__feed(f->io, &e, sizeof(e)), -EINVAL);
	assert_int_equal(io_stats__feed(f->io, NULL, 0), -EINVAL);
	assert_int_equal(io_stats__counts(f->io)->malformed, 4);
	/* records io_stats does not read are skipped, a poll of task 0 too */
	assert_int_equal(io_stats__feed(f->io, &p, sizeof(p)), 0);
	assert_true(io_stats__empty(f->io));
	assert_int_equal(io_stats__nr_resources(f->io), 0);
	io_stats__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_and_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_wait_would_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_wait_without_would_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_woken_during_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_and_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waits_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test(test_timeline_io),
		cmocka_unit_test(test_rec_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
