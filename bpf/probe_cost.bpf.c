// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BPF side of bench/probe_cost: programs that do as little as possible,
 * so that what bench/probe_cost measures is the uprobe mechanism itself
 * (int3 + emulation, int3 + out-of-line single-step, or the 6.18 optimised
 * nop5 -> call path), not the program.
 *
 * Each counter is its own one-slot per-CPU array, so user space finds it by
 * map name through the skeleton and no index constants have to be shared.
 * The bench checks after every measurement that the hits counted here equal
 * the calls it made.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PERCPU_COUNTER(name)					\
	struct {						\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);	\
		__uint(max_entries, 1);				\
		__type(key, __u32);				\
		__type(value, __u64);				\
	} name SEC(".maps")

PERCPU_COUNTER(entry_hits);	/* every uprobe program */
PERCPU_COUNTER(ret_hits);	/* the uretprobe program */
PERCPU_COUNTER(rb_events);	/* ring-buffer records submitted */
PERCPU_COUNTER(rb_drops);	/* bpf_ringbuf_reserve() failed */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/*
 * A 64-byte record, the size of a typical asyncscope event.  User space only
 * counts records and checks their size (PC_EVENT_SIZE in probe_cost.c).
 */
struct pc_event {
	__u64 ts_ns;
	__u64 ip;
	__u32 pid;
	__u32 tid;
	__u64 pad[5];
};
_Static_assert(sizeof(struct pc_event) == 64, "pc_event must stay 64 bytes");

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	/* per-CPU slot, and uprobe programs run with migration disabled */
	if (v)
		(*v)++;
}

static __always_inline void emit(struct pt_regs *ctx, __u64 flags)
{
	struct pc_event *e;
	__u64 id;

	bump(&entry_hits);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		bump(&rb_drops);
		return;
	}
	id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->ip = PT_REGS_IP(ctx);
	e->pid = id >> 32;
	e->tid = (__u32)id;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, flags);
	bump(&rb_events);
}

SEC("uprobe")
int BPF_KPROBE(pc_count)
{
	bump(&entry_hits);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(pc_count_ret)
{
	bump(&ret_hits);
	return 0;
}

/* The consumer drains on a timer; nobody is woken per record. */
SEC("uprobe")
int BPF_KPROBE(pc_rb_nowake)
{
	emit(ctx, BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * Default submit flags: the kernel decides, i.e. an irq_work wakeup whenever
 * the consumer has caught up, which is every record when it keeps up.
 */
SEC("uprobe")
int BPF_KPROBE(pc_rb_wake)
{
	emit(ctx, 0);
	return 0;
}
