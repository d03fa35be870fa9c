// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Event generator for bench/pipeline: asyncscope's own records (bpf/asyncscope.h),
 * written into a BPF ring buffer exactly as bpf/tokio.bpf.c writes them
 * (reserve, fill, submit with BPF_RB_NO_WAKEUP), but driven by
 * BPF_PROG_TEST_RUN instead of uprobes, so the user-space path (libbpf's
 * ring_buffer__consume, then correlator__feed) can be pushed to its limit.
 *
 * The records follow a plausible tokio workload: nr_slots tasks are alive at
 * once, visited round robin; each is spawned, then polled polls_per_task
 * times, each poll preceded by a waker clone and a wake (the pattern of a
 * request on a hyper connection or a yield_now), then completes and its slot
 * takes a new task.  Timestamps are real (bpf_ktime_get_ns), task ids
 * increase, so the correlator takes its ordinary paths.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "asyncscope.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PIPE_MAX_SLOTS	65536	/* power of two */

enum pipe_phase { PH_SPAWN = 0, PH_CLONE, PH_WAKE, PH_POLL, PH_COMPLETE };

struct pipe_slot {
	__u64 task_id;
	__u64 wake_ns;
	__u32 polls;
	__u32 phase;
};

/* set by user space before load */
const volatile __u32 nr_slots = 1024;		/* live tasks, power of two <= PIPE_MAX_SLOTS */
const volatile __u32 polls_per_task = 8;
const volatile __u32 batch = 1024;		/* records per BPF_PROG_TEST_RUN */
const volatile __u32 pid = 4242;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);	/* resized by user space before load */
} events SEC(".maps");

/* static: kept out of the skeleton, user space never looks at it */
static struct pipe_slot slots[PIPE_MAX_SLOTS];
__u64 cursor;
__u64 next_id = 1;
/* only one producer thread runs the program: plain counters will do */
__u64 produced;
__u64 dropped;

static __always_inline void fill_hdr(struct as_event_hdr *h, __u32 type, __u32 size, __u64 now)
{
	h->type = type;
	h->size = size;
	h->pid = pid;
	h->tid = pid + 1;
	h->cpu = 0;
	h->ts_ns = now;
}

static __always_inline void *reserve(__u32 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		dropped++;
	else
		produced++;
	return e;
}

static int gen_one(__u32 i, void *ctx)
{
	struct pipe_slot *s = &slots[cursor++ & (nr_slots - 1) & (PIPE_MAX_SLOTS - 1)];
	__u64 now = bpf_ktime_get_ns();

	switch (s->phase) {
	case PH_SPAWN: {
		struct as_ev_spawn *e;

		s->task_id = next_id++;
		s->polls = 0;
		s->phase = PH_CLONE;
		e = reserve(sizeof(*e));
		if (!e)
			break;
		fill_hdr(&e->h, AS_EV_SPAWN, sizeof(*e), now);
		e->task_id = s->task_id;
		e->parent_task_id = 0;
		e->kind = AS_TASK_ASYNC;
		e->type_idx = s->task_id & 7;
		e->line = 100 + (s->task_id & 3);
		e->col = 9;
		/* a handful of spawn sites, as in a real program */
		e->file_len = 14;
		e->pad = 0;
		__builtin_memcpy(e->file, "src/server.rs", 14);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		break;
	}
	case PH_CLONE:
	case PH_WAKE: {
		struct as_ev_waker *e;
		__u32 op = s->phase == PH_CLONE ? AS_WAKER_CLONE : AS_WAKE_BY_VAL;

		s->phase++;
		if (op == AS_WAKE_BY_VAL)
			s->wake_ns = now;
		e = reserve(sizeof(*e));
		if (!e)
			break;
		fill_hdr(&e->h, AS_EV_WAKER, sizeof(*e), now);
		e->task_id = s->task_id;
		e->cur_task_id = 0;
		e->op = op;
		e->type_idx = s->task_id & 7;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		break;
	}
	case PH_POLL: {
		struct as_ev_poll *e;

		s->polls++;
		s->phase = s->polls >= polls_per_task ? PH_COMPLETE : PH_CLONE;
		e = reserve(sizeof(*e));
		if (!e)
			break;
		fill_hdr(&e->h, AS_EV_POLL, sizeof(*e), now);
		e->task_id = s->task_id;
		e->start_ns = s->wake_ns + 1 < now ? s->wake_ns + 1 : now;
		e->type_idx = s->task_id & 7;
		e->flags = 0;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		break;
	}
	default: {
		struct as_ev_task *e;

		s->phase = PH_SPAWN;
		e = reserve(sizeof(*e));
		if (!e)
			break;
		fill_hdr(&e->h, AS_EV_COMPLETE, sizeof(*e), now);
		e->task_id = s->task_id;
		e->flags = 0;
		e->type_idx = s->task_id & 7;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		break;
	}
	}
	return 0;
}

SEC("raw_tp")
int generate(void *ctx)
{
	bpf_loop(batch, gen_one, NULL, 0);
	return 0;
}
