// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uprobes on tokio's task machinery (tokio 1.24 layout, x86-64).
 *
 * A task is identified by its Header address at the hook, turned into the
 * tokio task id through the task's vtable: id = *(hdr + vtable->id_offset).
 * User space puts every validated vtable of the traced process in `vtables`,
 * so a Header whose vtable is unknown (a corrupt pointer, another process)
 * is counted and ignored.  Reading the Header is a hit's dearest step
 * (~190 ns), so `tasks` keeps what it gave per Header address until the
 * task completes (see task_lookup).
 *
 * Each thread keeps a small stack of the polls it is inside, so wakes,
 * spawns and completions can be attributed to the task being polled.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "asyncscope.h"
#include "records.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Offset of the vtable pointer in tokio's #[repr(C)] task Header. */
#define HDR_VTABLE_OFF	16
/* Header.state bit set when the task was cancelled (aborted). */
#define STATE_CANCELLED	32

/* tokio's core::panic::Location sanity bounds */
#define LOC_MAX_FILE	4096
#define LOC_MAX_LINE	10000000
#define LOC_MAX_COL	100000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct as_vtable_key);
	__type(value, struct as_vtable_val);
} vtables SEC(".maps");

/*
 * Processes being traced.  Removing a uprobe takes the kernel ~0.1 s, one
 * at a time, so a stop first drops the pid here: from that instant no
 * program records anything for it, however long the probes take to go.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);			/* tgid */
	__type(value, __u32);
} procs SEC(".maps");

/*
 * The traced processes again, checked without a map lookup: every hit asks
 * (four times a poll), and a hash lookup costs ~30 ns.  The loader keeps
 * up to AS_FAST_PIDS pids here and sets fast_pids_complete when they are
 * all there is; otherwise (more processes, or a caller that only fills
 * procs) procs decides.  0 is a free slot: no uprobe fires in pid 0.
 */
#define AS_FAST_PIDS	4
__u32 fast_pids[AS_FAST_PIDS];
__u32 fast_pids_complete;

static __always_inline int traced(__u64 pid_tgid)
{
	__u32 pid = pid_tgid >> 32;

#pragma unroll
	for (int i = 0; i < AS_FAST_PIDS; i++)
		if (fast_pids[i] == pid)
			return 1;
	if (fast_pids_complete)
		return 0;
	return bpf_map_lookup_elem(&procs, &pid) != NULL;
}

/*
 * The Header's first bytes, read at once: the state word (+0), the vtable
 * pointer (+16) and, for nearly every task, the id (at +32 or +40, right
 * after the Header; further only behind a 128-aligned future).  A task's
 * Cell is always longer.  A user-memory read costs more than all the rest
 * of a hit's work, so one read instead of three.
 */
#define HDR_READ	48

/*
 * Header address -> task id and vtable index (and the state word if asked),
 * read from the task; the task's vtable entry, or NULL when it is not a
 * task we know.
 */
static __always_inline struct as_vtable_val *task_of(__u32 pid, __u64 hdr, __u64 *id,
						     __u32 *type_idx, __u64 *state)
{
	struct as_vtable_key key = { .pid = pid };
	struct as_vtable_val *v;
	__u64 w[HDR_READ / 8];

	if (bpf_probe_read_user(w, sizeof(w), (void *)hdr)) {
		count(AS_CNT_READ_FAULT);
		return NULL;
	}
	key.addr = w[HDR_VTABLE_OFF / 8];
	v = bpf_map_lookup_elem(&vtables, &key);
	if (!v) {
		count(AS_CNT_UNKNOWN_VTABLE);
		return NULL;
	}
	if (v->id_offset == 32) {
		*id = w[4];
	} else if (v->id_offset == 40) {
		*id = w[5];
	} else if (bpf_probe_read_user(id, sizeof(*id), (void *)(hdr + v->id_offset))) {
		count(AS_CNT_READ_FAULT);
		return NULL;
	}
	*type_idx = v->type_idx;
	if (state)
		*state = w[0];
	return v;
}

/*
 * Header address -> task, so that a poll or wake need not read the Header.
 * An entry is put in by a poll's entry (or a spawn) and taken out when the
 * task completes, before its memory can be freed and reused: so only for
 * task types whose completion is seen to pass the complete probe in a poll
 * (AS_VT_COMPLETE_PROBED: tokio inlines Harness::complete in some types'
 * raw::poll) while user space has every raw::shutdown (the other way to an
 * end) probed (task_cache_on).  A spawn at an address overwrites or clears
 * it too; a wake, which may come after completion, never puts one in.
 * Full, the cache is bypassed, not trusted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/*
	 * Preallocated (~5 MiB): a task's delete then costs a free-list push;
	 * without, the allocator's refills and frees (irq_work) made each
	 * completion ~1.3 us dearer on this machine.  More live tasks than
	 * this just go uncached.
	 */
	__uint(max_entries, 1 << 16);
	__type(key, struct as_task_key);
	__type(value, struct as_task_val);
} tasks SEC(".maps");

__u32 task_cache_on;

static __always_inline int cacheable(const struct as_vtable_val *v)
{
	return task_cache_on && (v->flags & AS_VT_COMPLETE_PROBED);
}

static __always_inline void task_cache_drop(__u32 pid, __u64 hdr)
{
	struct as_task_key k = { .pid = pid, .hdr = hdr };

	bpf_map_delete_elem(&tasks, &k);
}

/* A new task at hdr: cached if its type may be, and nothing older left there either way. */
static __always_inline void task_cache_spawn(__u32 pid, __u64 hdr, const struct as_vtable_val *v,
					     __u64 id)
{
	struct as_task_key k = { .pid = pid, .hdr = hdr };
	struct as_task_val val = { .id = id, .type_idx = v->type_idx };

	if (!cacheable(v) || bpf_map_update_elem(&tasks, &k, &val, BPF_ANY))
		bpf_map_delete_elem(&tasks, &k);
}

/*
 * task_of through the cache; a miss in a poll's entry (insert) puts the
 * task in: it is alive and not complete while it is being polled.
 */
static __always_inline int task_lookup(__u32 pid, __u64 hdr, __u64 *id, __u32 *type_idx,
				       int insert)
{
	struct as_task_key k = { .pid = pid, .hdr = hdr };
	struct as_task_val *c, val = {};
	struct as_vtable_val *v;

	if (task_cache_on) {
		c = bpf_map_lookup_elem(&tasks, &k);
		if (c) {
			*id = c->id;
			*type_idx = c->type_idx;
			return 0;
		}
	}
	v = task_of(pid, hdr, id, type_idx, NULL);
	if (!v)
		return -1;
	if (insert && cacheable(v)) {
		val.id = *id;
		val.type_idx = *type_idx;
		bpf_map_update_elem(&tasks, &k, &val, BPF_NOEXIST);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(poll_enter, __u64 hdr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	__u64 sp = PT_REGS_SP(ctx), id;
	struct as_thread_state *ts;
	struct as_poll_frame *f;
	__u32 type_idx, d;

	if (!traced(pid_tgid) || task_lookup(pid, hdr, &id, &type_idx, 1))
		return 0;
	ts = thread_state_get(1);
	if (!ts)
		return 0;

	/*
	 * Frames at or below this stack pointer belong to polls whose return
	 * never came (probes attached between a poll's entry and its return).
	 */
	d = clamp_depth(ts->depth);
#pragma unroll
	for (int i = AS_POLL_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i >= d)
			continue;
		if (ts->frames[i].sp > sp)
			break;
		d = i;
		count(AS_CNT_POLL_STALE);
	}
	f = frame_at(ts, d);
	if (!f) {
		ts->depth = d;
		count(AS_CNT_POLL_TOO_DEEP);
		return 0;
	}
	f->hdr = hdr;
	f->task_id = id;
	f->sp = sp;
	f->type_idx = type_idx;
	f->flags = 0;
	f->waker_clones = 0;
	f->waker_drops = 0;
	if (d > 0)
		f->flags |= AS_POLL_NESTED;
	ts->depth = d + 1;
	/* last, so the time spent in this program is not charged to the task */
	f->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(poll_exit)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	/* after `ret` the stack pointer is 8 above the one seen at entry */
	__u64 entry_sp = PT_REGS_SP(ctx) - 8;
	struct as_thread_state *ts;
	struct as_poll_frame *f;
	struct as_ev_poll *e;
	__u32 d, match = AS_POLL_DEPTH;

	if (!traced(pid_tgid))
		return 0;
	ts = thread_state_get(0);
	if (!ts) {
		count(AS_CNT_POLL_ORPHAN_RET);
		return 0;
	}
	d = clamp_depth(ts->depth);
#pragma unroll
	for (int i = AS_POLL_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i < d && ts->frames[i].sp == entry_sp) {
			match = i;
			break;
		}
	}
	f = frame_at(ts, match);
	if (!f) {
		count(AS_CNT_POLL_ORPHAN_RET);
		return 0;
	}
	if (d > match + 1)
		count(AS_CNT_POLL_STALE);
	ts->depth = match;
	count(AS_CNT_POLL);

	e = reserve(sizeof(*e), AS_EV_POLL);
	if (!e)
		return 0;
	fill_hdr(&e->h, AS_EV_POLL, sizeof(*e), pid_tgid, now);
	e->task_id = f->task_id;
	e->start_ns = f->start_ns;
	e->type_idx = f->type_idx;
	e->flags = f->flags;
	e->waker_clones = f->waker_clones;
	e->waker_drops = f->waker_drops;
	submit(e);
	return 0;
}

/*
 * The task at hdr, f being the innermost poll of this thread: a task clones
 * its waker, wakes and completes itself mostly from inside its own poll,
 * and then the frame already holds its id (read and validated at the poll's
 * entry, the task alive since) and no user memory need be read.
 */
static __always_inline int task_at(struct as_poll_frame *f, __u32 pid, __u64 hdr, __u64 *id,
				   __u32 *type_idx)
{
	if (f && f->hdr == hdr) {
		*id = f->task_id;
		*type_idx = f->type_idx;
		return 0;
	}
	return task_lookup(pid, hdr, id, type_idx, 0);
}

/* wake_by_val / wake_by_ref / clone_waker / drop_waker; cookie = enum as_waker_op */
SEC("uprobe")
int BPF_KPROBE(waker_op, __u64 hdr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	__u32 op = (__u32)bpf_get_attach_cookie(ctx), type_idx;
	struct as_poll_frame *f;
	struct as_ev_waker *e;
	__u64 id;

	if (!traced(pid_tgid))
		return 0;
	f = cur_frame(thread_state_get(0));
	if (task_at(f, pid, hdr, &id, &type_idx))
		return 0;
	switch (op) {
	case AS_WAKE_BY_VAL:	count(AS_CNT_WAKE_BY_VAL); break;
	case AS_WAKE_BY_REF:	count(AS_CNT_WAKE_BY_REF); break;
	case AS_WAKER_CLONE:	count(AS_CNT_WAKER_CLONE); break;
	case AS_WAKER_DROP:	count(AS_CNT_WAKER_DROP); break;
	default:		return 0;
	}
	/* its own waker inside its own poll: counted in the poll's record */
	if (f && f->hdr == hdr && (op == AS_WAKER_CLONE || op == AS_WAKER_DROP)) {
		count(AS_CNT_WAKER_FOLDED);
		if (op == AS_WAKER_CLONE)
			f->waker_clones++;
		else
			f->waker_drops++;
		return 0;
	}
	e = reserve(sizeof(*e), AS_EV_WAKER);
	if (!e)
		return 0;
	fill_hdr(&e->h, AS_EV_WAKER, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
	e->task_id = id;
	e->cur_task_id = f ? f->task_id : 0;
	e->op = op;
	e->type_idx = type_idx;
	submit(e);
	return 0;
}

/*
 * The task at hdr completes inside its own poll: whether it was aborted
 * (its state word's CANCELLED bit), and its type marked as one whose
 * completions pass the probe (the task cache may then keep its tasks).
 * Read once per task.
 */
static __always_inline int task_completed_in_poll(__u32 pid, __u64 hdr)
{
	struct as_vtable_val *v;
	__u64 id, state;
	__u32 type_idx;

	v = task_of(pid, hdr, &id, &type_idx, &state);
	if (!v)
		return 0;
	if (!(v->flags & AS_VT_COMPLETE_PROBED))
		v->flags |= AS_VT_COMPLETE_PROBED;	/* the only bit: a racing store sets the same */
	return (state & STATE_CANCELLED) != 0;
}

/* Harness::complete / raw::shutdown / raw::schedule; cookie = enum as_event_type */
SEC("uprobe")
int BPF_KPROBE(task_op, __u64 hdr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	__u32 type = (__u32)bpf_get_attach_cookie(ctx), type_idx, flags = 0;
	struct as_poll_frame *f;
	struct as_ev_task *e;
	__u64 id;

	if (!traced(pid_tgid))
		return 0;
	f = cur_frame(thread_state_get(0));
	if (task_at(f, pid, hdr, &id, &type_idx))
		return 0;
	switch (type) {
	case AS_EV_COMPLETE:	count(AS_CNT_COMPLETE); break;
	case AS_EV_SHUTDOWN:	count(AS_CNT_SHUTDOWN); break;
	case AS_EV_SCHEDULE:	count(AS_CNT_SCHEDULE); break;
	default:		return 0;
	}
	if (f && f->hdr == hdr) {
		flags |= AS_TASK_IN_POLL;
		if (type == AS_EV_COMPLETE) {
			f->flags |= AS_POLL_READY;
			/* aborted: tokio completes a cancelled task in its next poll (or this one) */
			if (task_completed_in_poll(pid, hdr))
				f->flags |= AS_POLL_CANCELLED;
		}
	}
	/* no poll follows: its address may hold a new task once this one is freed */
	if (type != AS_EV_SCHEDULE)
		task_cache_drop(pid, hdr);
	e = reserve(sizeof(*e), type);
	if (!e)
		return 0;
	fill_hdr(&e->h, type, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
	e->task_id = id;
	e->flags = flags;
	e->type_idx = type_idx;
	submit(e);
	return 0;
}

struct rust_location {
	__u64 file;
	__u64 len;
	__u32 line;
	__u32 col;
};

static __always_inline int loc_valid(__u64 addr, struct rust_location *loc)
{
	if (!addr || bpf_probe_read_user(loc, sizeof(*loc), (void *)addr))
		return 0;
	return loc->file && loc->len > 0 && loc->len < LOC_MAX_FILE &&
	       loc->line > 0 && loc->line < LOC_MAX_LINE && loc->col < LOC_MAX_COL;
}

/*
 * spawn_inner<T>(future, name, &'static Location): the Location is the
 * hidden #[track_caller] argument after the others, so its register
 * depends on how the future is passed (rcx for a future passed by
 * pointer).  Take the first candidate that looks like a Location.
 */
SEC("uprobe")
int BPF_KPROBE(spawn_loc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	__u64 cand[3] = { PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), PT_REGS_PARM3(ctx) };
	struct as_thread_state *ts;
	struct rust_location loc;
	__u64 found = 0;

	if (!traced(pid_tgid))
		return 0;
	for (int i = 0; i < 3; i++) {
		if (loc_valid(cand[i], &loc)) {
			found = cand[i];
			break;
		}
	}
	ts = thread_state_get(1);
	if (!ts)
		return 0;
	ts->spawn_loc = found;
	ts->spawn_sp = PT_REGS_SP(ctx);
	return 0;
}

static __always_inline void emit_spawn(void *ctx, __u64 hdr, __u32 kind, int with_loc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	__u64 sp = PT_REGS_SP((struct pt_regs *)ctx), id, src;
	struct as_thread_state *ts;
	struct rust_location loc;
	struct as_ev_spawn *e;
	struct as_vtable_val *v;
	__u64 n;
	__u32 type_idx;

	if (!traced(pid_tgid))
		return;
	v = task_of(pid, hdr, &id, &type_idx, NULL);
	if (!v)
		return;
	task_cache_spawn(pid, hdr, v, id);
	count(kind == AS_TASK_BLOCKING ? AS_CNT_SPAWN_BLOCKING : AS_CNT_SPAWN);
	ts = thread_state_get(0);
	e = reserve(sizeof(*e), AS_EV_SPAWN);
	if (!e)
		goto out;
	fill_hdr(&e->h, AS_EV_SPAWN, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
	e->task_id = id;
	e->parent_task_id = cur_task_id(ts);
	e->kind = kind;
	e->type_idx = type_idx;
	e->line = 0;
	e->col = 0;
	e->file_len = 0;
	e->pad = 0;
	/* the stash is ours if spawn_inner's frame still encloses us (or just returned) */
	if (with_loc && ts && ts->spawn_loc && sp <= ts->spawn_sp + 8 &&
	    loc_valid(ts->spawn_loc, &loc)) {
		/* keep the tail of a long path: it names the file */
		n = loc.len > AS_LOC_FILE_MAX ? AS_LOC_FILE_MAX : loc.len;
		src = loc.file + (loc.len - n);
		barrier_var(n);
		if (n > 0 && n <= AS_LOC_FILE_MAX &&
		    !bpf_probe_read_user(e->file, n, (void *)src)) {
			e->file_len = n;
			e->line = loc.line;
			e->col = loc.col;
		}
	}
	submit(e);
out:
	if (with_loc && ts)
		ts->spawn_loc = 0;
}

/* OwnedTasks::bind (or spawn_inner) return: rax is the new task's Header. */
SEC("uretprobe")
int BPF_KRETPROBE(spawn_ret, __u64 hdr)
{
	emit_spawn(ctx, hdr, AS_TASK_ASYNC, 1);
	return 0;
}

/* blocking::pool::Spawner::spawn_task(&self, task, ...): rsi is the Header. */
SEC("uprobe")
int BPF_KPROBE(spawn_blocking, __u64 self, __u64 hdr)
{
	emit_spawn(ctx, hdr, AS_TASK_BLOCKING, 0);
	return 0;
}
