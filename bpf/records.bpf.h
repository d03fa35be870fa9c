/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tokio.bpf.c and sock.bpf.c share: the ring buffer, the kernel
 * counters and the per-thread poll stacks (one set of maps: user space
 * hands tokio.bpf.c's fds to sock.bpf.c with bpf_map__reuse_fd before
 * load), how a stack is read, and how a record goes into the ring buffer.
 * BPF side only.
 */
#ifndef ASYNCSCOPE_RECORDS_BPF_H
#define ASYNCSCOPE_RECORDS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);	/* resized by user space before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AS_CNT_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * The per-thread poll stacks, in each thread's own BPF storage: found
 * without a hash lookup on every hit, allocated per thread on first use
 * (nothing preallocated), freed with the thread.  User space reaches an
 * entry through a pidfd of the thread (PIDFD_THREAD).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct as_thread_state);
} threads SEC(".maps");

/* This thread's poll stack; with create, a zeroed one if it had none. */
static __always_inline struct as_thread_state *thread_state_get(int create)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline __u32 clamp_depth(__u32 depth)
{
	return depth > AS_POLL_DEPTH ? AS_POLL_DEPTH : depth;
}

/*
 * frames[d] for a depth read from a map.  The index is only ever a constant
 * after unrolling: the verifier cannot keep bounds on a computed one.
 */
static __always_inline struct as_poll_frame *frame_at(struct as_thread_state *ts, __u32 d)
{
	struct as_poll_frame *f = NULL;

#pragma unroll
	for (int i = 0; i < AS_POLL_DEPTH; i++)
		if ((__u32)i == d)
			f = &ts->frames[i];
	return f;
}

/* The innermost poll this thread is in, or NULL. */
static __always_inline struct as_poll_frame *cur_frame(struct as_thread_state *ts)
{
	__u32 d;

	if (!ts)
		return NULL;
	d = clamp_depth(ts->depth);
	return d ? frame_at(ts, d - 1) : NULL;
}

/* The task this thread is polling, 0 if none. */
static __always_inline __u64 cur_task_id(struct as_thread_state *ts)
{
	struct as_poll_frame *f = cur_frame(ts);

	return f ? f->task_id : 0;
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* A record of size bytes, or NULL with the drop counted (the ring buffer is full). */
static __always_inline void *reserve(__u32 size, __u32 type)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		count(AS_CNT_DROPPED);
		count(AS_CNT_DROP_BASE + type);
	}
	return e;
}

/* No wakeup per event: it costs the traced thread ~2-3 us.  User space drains on a timer. */
static __always_inline void submit(void *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	count(AS_CNT_EMITTED);
}

static __always_inline void fill_hdr(struct as_event_hdr *h, __u32 type, __u32 size,
				     __u64 pid_tgid, __u64 now)
{
	h->type = type;
	h->size = size;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = now;
}

#endif
