// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The real tokio.bpf.c programs, loaded and attached to functions of this
 * test that play tokio's hooks on fake tasks laid out like tokio 1.24's
 * (Header with the vtable pointer at +16, the id at vtable->id_offset).
 * Every record and counter is checked exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "asyncscope.h"
#include "tokio.skel.h"

#define ID_OFFSET	40
#define TYPE_IDX	7
#define STATE_CANCELLED	32

struct fake_vtable {
	void *slots[7];
	uint64_t trailer_offset, scheduler_offset, id_offset;
};

struct fake_task {
	uint64_t state;
	void *queue_next;
	const struct fake_vtable *vtable;
	uint64_t owner_id;
	uint64_t scheduler;
	uint64_t id;		/* at ID_OFFSET */
};

struct fake_location {
	const char *file;
	uint64_t len;
	uint32_t line, col;
};

static const struct fake_vtable vt = { .scheduler_offset = 32, .id_offset = ID_OFFSET };
static const struct fake_vtable unknown_vt = { .id_offset = ID_OFFSET };

/* The "hooks": out of line, never folded, each doing what its tokio twin does to us. */
#define HOOK __attribute__((noinline, used, visibility("default")))
static volatile int sink;

HOOK void fake_wake_by_val(struct fake_task *t) { sink += (int)t->id; }
HOOK void fake_clone_waker(struct fake_task *t) { sink += (int)t->id; }
HOOK void fake_drop_waker(struct fake_task *t) { sink += (int)t->id; }
HOOK void fake_complete(struct fake_task *t) { sink += (int)t->id; }
HOOK void fake_shutdown(struct fake_task *t) { sink += (int)t->id; }
HOOK struct fake_task *fake_bind(struct fake_task *t) { sink++; return t; }
HOOK struct fake_task *fake_spawn_inner(void *fut, void *n1, void *n2, const struct fake_location *loc,
				       struct fake_task *t)
{
	sink += (int)loc->line;
	(void)fut; (void)n1; (void)n2;
	return fake_bind(t);
}
HOOK void fake_spawn_task(void *self, struct fake_task *t) { (void)self; sink += (int)t->id; }

struct poll_plan {
	struct fake_task *wake;		/* wake this one during the poll */
	struct fake_task *nested;	/* poll this one inside */
	struct fake_task *spawn;	/* spawn this one inside */
	int complete;			/* complete ourselves */
	int clones, drops;		/* of our own waker, inside */
	struct fake_task *clone;	/* clone this one's waker inside */
};
static struct poll_plan plan;

HOOK int fake_poll(struct fake_task *t)
{
	struct poll_plan p = plan;

	memset(&plan, 0, sizeof(plan));
	for (int i = 0; i < p.clones; i++)
		fake_clone_waker(t);
	if (p.clone)
		fake_clone_waker(p.clone);
	if (p.wake)
		fake_wake_by_val(p.wake);
	if (p.nested)
		fake_poll(p.nested);
	if (p.spawn) {
		static const struct fake_location loc = { "src/fake.rs", 11, 42, 7 };
		fake_spawn_inner(NULL, NULL, NULL, &loc, p.spawn);
	}
	if (p.complete)
		fake_complete(t);
	for (int i = 0; i < p.drops; i++)
		fake_drop_waker(t);
	return (int)t->id;
}

/* ------------------------------------------------------------------ */

#define MAX_RECS 256
static struct tokio_bpf *skel;
static struct ring_buffer *rb;
static struct bpf_link *links[16];
static int nr_links;
static unsigned char recs[MAX_RECS][256];
static size_t rec_sz[MAX_RECS];
static int nr_recs;

static int on_rec(void *ctx, void *data, size_t sz)
{
	(void)ctx;
	if (nr_recs < MAX_RECS && sz <= sizeof(recs[0])) {
		memcpy(recs[nr_recs], data, sz);
		rec_sz[nr_recs++] = sz;
	}
	return 0;
}

static void attach(struct bpf_program *prog, const char *fn, int ret, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = fn, .retprobe = ret, .bpf_cookie = cookie);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, 0, "/proc/self/exe", 0, &o);

	assert_non_null(l);
	links[nr_links++] = l;
}

static uint64_t counter(uint32_t idx)
{
	int n = libbpf_num_possible_cpus();
	uint64_t vals[n], sum = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &idx, vals), 0);
	for (int i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

static void reset(void)
{
	uint32_t zero_vals[libbpf_num_possible_cpus() * 2];

	ring_buffer__consume(rb);
	nr_recs = 0;
	memset(zero_vals, 0, sizeof(zero_vals));
	for (uint32_t k = 0; k < AS_CNT_NR; k++)
		bpf_map_update_elem(bpf_map__fd(skel->maps.counters), &k, zero_vals, BPF_ANY);
}

static void set_traced(int on)
{
	uint32_t pid = getpid(), one = 1;
	int fd = bpf_map__fd(skel->maps.procs);

	if (on)
		assert_int_equal(bpf_map_update_elem(fd, &pid, &one, BPF_ANY), 0);
	else
		assert_int_equal(bpf_map_delete_elem(fd, &pid), 0);
}

static int setup(void **state)
{
	struct as_vtable_key k = { .pid = getpid(), .addr = (uint64_t)(uintptr_t)&vt };
	struct as_vtable_val v = { .id_offset = ID_OFFSET, .type_idx = TYPE_IDX };

	(void)state;
	skel = tokio_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "bpf: tokio.bpf.c failed to load (verifier log above)\n");
		return -1;
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.vtables), &k, &v, BPF_ANY), 0);
	set_traced(1);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_rec, NULL, NULL);
	assert_non_null(rb);
	attach(skel->progs.poll_exit, "fake_poll", 1, 0);
	attach(skel->progs.poll_enter, "fake_poll", 0, 0);
	attach(skel->progs.waker_op, "fake_wake_by_val", 0, AS_WAKE_BY_VAL);
	attach(skel->progs.waker_op, "fake_clone_waker", 0, AS_WAKER_CLONE);
	attach(skel->progs.waker_op, "fake_drop_waker", 0, AS_WAKER_DROP);
	attach(skel->progs.task_op, "fake_complete", 0, AS_EV_COMPLETE);
	attach(skel->progs.task_op, "fake_shutdown", 0, AS_EV_SHUTDOWN);
	attach(skel->progs.spawn_loc, "fake_spawn_inner", 0, 0);
	attach(skel->progs.spawn_ret, "fake_bind", 1, 0);
	attach(skel->progs.spawn_blocking, "fake_spawn_task", 0, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nr_links; i++)
		bpf_link__destroy(links[i]);
	ring_buffer__free(rb);
	tokio_bpf__destroy(skel);
	return 0;
}

static const struct as_event_hdr *rec(int i, unsigned type)
{
	const struct as_event_hdr *h = (const void *)recs[i];

	assert_true(i < nr_recs);
	assert_int_equal(h->type, type);
	assert_int_equal(h->size, rec_sz[i]);
	assert_int_equal(h->pid, getpid());
	return h;
}

static void test_polls_counted_exactly(void **state)
{
	struct fake_task t = { .vtable = &vt, .id = 1001 };
	const struct as_ev_poll *p;

	(void)state;
	reset();
	for (int i = 0; i < 100; i++)
		fake_poll(&t);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 100);
	for (int i = 0; i < 100; i++) {
		p = (const void *)rec(i, AS_EV_POLL);
		assert_int_equal(p->task_id, 1001);
		assert_int_equal(p->type_idx, TYPE_IDX);
		assert_int_equal(p->flags, 0);
		assert_true(p->start_ns <= p->h.ts_ns);
	}
	assert_int_equal(counter(AS_CNT_POLL), 100);
	assert_int_equal(counter(AS_CNT_EMITTED), 100);
	assert_int_equal(counter(AS_CNT_DROPPED), 0);
	assert_int_equal(counter(AS_CNT_POLL_ORPHAN_RET), 0);
}

static void test_complete_in_poll_marks_ready(void **state)
{
	struct fake_task t = { .vtable = &vt, .id = 7 };
	const struct as_ev_task *c;
	const struct as_ev_poll *p;

	(void)state;
	reset();
	plan.complete = 1;
	fake_poll(&t);
	fake_complete(&t);	/* outside any poll */
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 3);
	c = (const void *)rec(0, AS_EV_COMPLETE);
	assert_int_equal(c->task_id, 7);
	assert_int_equal(c->flags, AS_TASK_IN_POLL);
	p = (const void *)rec(1, AS_EV_POLL);
	assert_int_equal(p->flags, AS_POLL_READY);
	c = (const void *)rec(2, AS_EV_COMPLETE);
	assert_int_equal(c->flags, 0);
	assert_int_equal(counter(AS_CNT_COMPLETE), 2);
}

static void test_wake_attributed_to_polled_task(void **state)
{
	struct fake_task a = { .vtable = &vt, .id = 1 }, b = { .vtable = &vt, .id = 2 };
	const struct as_ev_waker *w;

	(void)state;
	reset();
	plan.wake = &b;
	fake_poll(&a);
	fake_wake_by_val(&a);	/* from outside the runtime */
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 3);
	w = (const void *)rec(0, AS_EV_WAKER);
	assert_int_equal(w->task_id, 2);
	assert_int_equal(w->cur_task_id, 1);
	assert_int_equal(w->op, AS_WAKE_BY_VAL);
	rec(1, AS_EV_POLL);
	w = (const void *)rec(2, AS_EV_WAKER);
	assert_int_equal(w->task_id, 1);
	assert_int_equal(w->cur_task_id, 0);
	assert_int_equal(counter(AS_CNT_WAKE_BY_VAL), 2);
}

/*
 * A task's own waker cloned and dropped inside its own poll: counted in the
 * poll's record, no waker record; another task's waker, or outside the
 * poll: a record each.  The kernel counts every one.
 */
static void test_own_waker_ops_folded_into_poll(void **state)
{
	struct fake_task a = { .vtable = &vt, .id = 40 }, b = { .vtable = &vt, .id = 41 };
	const struct as_ev_waker *w;
	const struct as_ev_poll *p;

	(void)state;
	reset();
	plan.clones = 3;
	plan.drops = 2;
	plan.clone = &b;
	plan.nested = &b;
	fake_poll(&a);
	fake_clone_waker(&a);	/* outside any poll */
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 4);
	w = (const void *)rec(0, AS_EV_WAKER);
	assert_int_equal(w->task_id, 41);
	assert_int_equal(w->cur_task_id, 40);
	assert_int_equal(w->op, AS_WAKER_CLONE);
	p = (const void *)rec(1, AS_EV_POLL);	/* b's nested poll: nothing of a's */
	assert_int_equal(p->task_id, 41);
	assert_int_equal(p->waker_clones, 0);
	assert_int_equal(p->waker_drops, 0);
	p = (const void *)rec(2, AS_EV_POLL);
	assert_int_equal(p->task_id, 40);
	assert_int_equal(p->waker_clones, 3);
	assert_int_equal(p->waker_drops, 2);
	w = (const void *)rec(3, AS_EV_WAKER);
	assert_int_equal(w->task_id, 40);
	assert_int_equal(w->cur_task_id, 0);
	assert_int_equal(counter(AS_CNT_WAKER_CLONE), 5);
	assert_int_equal(counter(AS_CNT_WAKER_DROP), 2);
	assert_int_equal(counter(AS_CNT_WAKER_FOLDED), 5);
	assert_int_equal(counter(AS_CNT_EMITTED), 4);

	/* the next poll starts from zero */
	reset();
	fake_poll(&a);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 1);
	p = (const void *)rec(0, AS_EV_POLL);
	assert_int_equal(p->waker_clones, 0);
	assert_int_equal(p->waker_drops, 0);
}

static void test_nested_poll(void **state)
{
	struct fake_task a = { .vtable = &vt, .id = 10 }, b = { .vtable = &vt, .id = 11 };
	const struct as_ev_poll *p;

	(void)state;
	reset();
	plan.nested = &b;
	fake_poll(&a);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 2);
	p = (const void *)rec(0, AS_EV_POLL);
	assert_int_equal(p->task_id, 11);
	assert_int_equal(p->flags, AS_POLL_NESTED);
	p = (const void *)rec(1, AS_EV_POLL);
	assert_int_equal(p->task_id, 10);
	assert_int_equal(p->flags, 0);
	assert_int_equal(counter(AS_CNT_POLL_STALE), 0);
}

static void test_cancelled_and_unknown(void **state)
{
	struct fake_task c = { .state = STATE_CANCELLED | 64, .vtable = &vt, .id = 5 };
	struct fake_task u = { .vtable = &unknown_vt, .id = 6 };
	const struct as_ev_poll *p;

	(void)state;
	reset();
	/* tokio's poll of an aborted task drops the future and completes it */
	plan.complete = 1;
	fake_poll(&c);
	fake_poll(&u);		/* a vtable we never registered: ignored, counted */
	fake_shutdown(&c);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 3);
	rec(0, AS_EV_COMPLETE);
	p = (const void *)rec(1, AS_EV_POLL);
	assert_int_equal(p->task_id, 5);
	assert_int_equal(p->flags, AS_POLL_CANCELLED | AS_POLL_READY);
	rec(2, AS_EV_SHUTDOWN);
	assert_int_equal(counter(AS_CNT_UNKNOWN_VTABLE), 1);
	/* the unknown task's return finds no frame of its own */
	assert_int_equal(counter(AS_CNT_POLL_ORPHAN_RET), 1);
}

static void test_spawn_with_location_and_parent(void **state)
{
	struct fake_task parent = { .vtable = &vt, .id = 20 }, child = { .vtable = &vt, .id = 21 };
	struct fake_task blocking = { .vtable = &vt, .id = 22 };
	const struct as_ev_spawn *s;

	(void)state;
	reset();
	plan.spawn = &child;
	fake_poll(&parent);
	fake_spawn_task(NULL, &blocking);
	/* a bind outside spawn_inner: no stale location may leak into it */
	fake_bind(&child);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 4);
	s = (const void *)rec(0, AS_EV_SPAWN);
	assert_int_equal(s->task_id, 21);
	assert_int_equal(s->parent_task_id, 20);
	assert_int_equal(s->kind, AS_TASK_ASYNC);
	assert_int_equal(s->type_idx, TYPE_IDX);
	assert_int_equal(s->file_len, 11);
	assert_memory_equal(s->file, "src/fake.rs", 11);
	assert_int_equal(s->line, 42);
	assert_int_equal(s->col, 7);
	rec(1, AS_EV_POLL);
	s = (const void *)rec(2, AS_EV_SPAWN);
	assert_int_equal(s->task_id, 22);
	assert_int_equal(s->kind, AS_TASK_BLOCKING);
	assert_int_equal(s->parent_task_id, 0);
	assert_int_equal(s->file_len, 0);
	s = (const void *)rec(3, AS_EV_SPAWN);
	assert_int_equal(s->file_len, 0);
	assert_int_equal(counter(AS_CNT_SPAWN), 2);
	assert_int_equal(counter(AS_CNT_SPAWN_BLOCKING), 1);
}

static uint32_t vt_flags(int fd, const struct fake_vtable *v)
{
	struct as_vtable_key k = { .pid = getpid(), .addr = (uint64_t)(uintptr_t)v };
	struct as_vtable_val val;

	assert_int_equal(bpf_map_lookup_elem(fd, &k, &val), 0);
	return val.flags;
}

/*
 * The task cache keeps a task from its first poll (or spawn) to its
 * completion, only for types seen completing through the probe: changing
 * the id in memory shows whether the cache or the memory answered.
 */
static void test_task_cache(void **state)
{
	static const struct fake_vtable cvt = { .scheduler_offset = 32, .id_offset = ID_OFFSET };
	struct as_vtable_key vk = { .pid = getpid(), .addr = (uint64_t)(uintptr_t)&cvt };
	struct as_vtable_val vv = { .id_offset = ID_OFFSET, .type_idx = TYPE_IDX + 1 };
	struct fake_task a = { .vtable = &cvt, .id = 40 }, b = { .vtable = &cvt, .id = 50 };
	struct as_task_key k = { .pid = getpid(), .hdr = (uint64_t)(uintptr_t)&b };
	int fd = bpf_map__fd(skel->maps.tasks), vfd = bpf_map__fd(skel->maps.vtables);
	struct as_task_val v;
	static const uint64_t want[] = { 40, 41, 41, 41, 50, 50, 50, 500, 500, 500, 500, 501, 502 };
	static const unsigned types[] = { AS_EV_POLL, AS_EV_POLL, AS_EV_COMPLETE, AS_EV_POLL,
					  AS_EV_POLL, AS_EV_POLL, AS_EV_WAKER, AS_EV_SPAWN,
					  AS_EV_POLL, AS_EV_COMPLETE, AS_EV_POLL, AS_EV_WAKER,
					  AS_EV_POLL };

	(void)state;
	assert_int_equal(bpf_map_update_elem(vfd, &vk, &vv, BPF_ANY), 0);
	reset();
	skel->bss->task_cache_on = 1;
	fake_poll(&a);			/* no completion of this type seen yet: not kept */
	a.id = 41;
	fake_poll(&a);
	assert_int_equal(vt_flags(vfd, &cvt), 0);
	plan.complete = 1;
	fake_poll(&a);			/* completes through the probe: the type is marked */
	assert_int_equal(vt_flags(vfd, &cvt), AS_VT_COMPLETE_PROBED);
	fake_poll(&b);			/* now kept from its first poll */
	b.id = 500;
	fake_poll(&b);			/* the cache answers, not the memory */
	fake_wake_by_val(&b);		/* outside any poll: the cache too */
	fake_bind(&b);			/* a new task at this address: its spawn overwrites */
	fake_poll(&b);
	plan.complete = 1;
	fake_poll(&b);			/* completes: out of the cache */
	assert_int_not_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	b.id = 501;
	fake_wake_by_val(&b);		/* a wake after completion reads, and keeps nothing */
	assert_int_not_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	skel->bss->task_cache_on = 0;
	b.id = 502;
	fake_poll(&b);			/* off: every hit reads */
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 13);
	for (int i = 0; i < 13; i++) {
		const struct as_event_hdr *h = rec(i, types[i]);

		switch (types[i]) {
		case AS_EV_POLL: assert_int_equal(((const struct as_ev_poll *)h)->task_id, want[i]); break;
		case AS_EV_WAKER: assert_int_equal(((const struct as_ev_waker *)h)->task_id, want[i]); break;
		case AS_EV_SPAWN: assert_int_equal(((const struct as_ev_spawn *)h)->task_id, want[i]); break;
		default: assert_int_equal(((const struct as_ev_task *)h)->task_id, want[i]); break;
		}
	}
	assert_int_equal(counter(AS_CNT_READ_FAULT), 0);
	assert_int_equal(bpf_map_delete_elem(vfd, &vk), 0);
}

/* A stopped process records nothing at once, its probes still in place. */
static void test_stopped_process_records_nothing(void **state)
{
	struct fake_task a = { .vtable = &vt, .id = 30 }, b = { .vtable = &vt, .id = 31 };

	(void)state;
	reset();
	set_traced(0);
	plan.wake = &b;
	plan.complete = 1;
	fake_poll(&a);
	fake_spawn_task(NULL, &b);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 0);
	assert_int_equal(counter(AS_CNT_POLL), 0);
	assert_int_equal(counter(AS_CNT_POLL_ORPHAN_RET), 0);
	set_traced(1);
	fake_poll(&a);
	ring_buffer__consume(rb);
	assert_int_equal(nr_recs, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polls_counted_exactly),
		cmocka_unit_test(test_complete_in_poll_marks_ready),
		cmocka_unit_test(test_wake_attributed_to_polled_task),
		cmocka_unit_test(test_own_waker_ops_folded_into_poll),
		cmocka_unit_test(test_nested_poll),
		cmocka_unit_test(test_cancelled_and_unknown),
		cmocka_unit_test(test_spawn_with_location_and_parent),
		cmocka_unit_test(test_task_cache),
		cmocka_unit_test(test_stopped_process_records_nothing),
	};

	return cmocka_run_group_tests_name("tokio_bpf", tests, setup, teardown);
}
