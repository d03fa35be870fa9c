/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one ABI between the BPF programs and user space.
 *
 * Includes nothing: the BPF side gets __u* from vmlinux.h, user space from
 * <linux/types.h>.  Fixed-width fields only, natural alignment, explicit
 * padding, and a size check on every record.
 */
#ifndef ASYNCSCOPE_ABI_H
#define ASYNCSCOPE_ABI_H

#define AS_ABI_VERSION		2	/* 2: waker clones and drops folded into polls */

/* Every ring-buffer record starts with struct as_event_hdr. */
enum as_event_type {
	AS_EV_POLL	= 1,	/* one per finished poll: start and end */
	AS_EV_WAKER	= 2,	/* wake_by_val / wake_by_ref / clone / drop */
	AS_EV_SPAWN	= 3,	/* a task was created (async or blocking) */
	AS_EV_COMPLETE	= 4,	/* Harness::complete: the task finished */
	AS_EV_SHUTDOWN	= 5,	/* raw::shutdown: the runtime cancels it */
	AS_EV_SCHEDULE	= 6,	/* raw::schedule: a wake enqueued the task */
	AS_EV_SOCK	= 7,	/* a socket operation (bpf/sock.bpf.c) */
	AS_EV_RUNTIME	= 8,	/* a runtime thread starts a driver phase (bpf/sock.bpf.c) */
	AS_EV_SOCK_OP	= 9,	/* a socket operation on a socket already described */
	AS_EV__MAX
};

struct as_event_hdr {
	__u16 type;		/* enum as_event_type */
	__u16 size;		/* size of the whole record in bytes */
	__u32 pid;		/* tgid of the traced process */
	__u32 tid;		/* thread that produced the event */
	__u32 cpu;
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

/* AS_EV_POLL flags */
#define AS_POLL_READY		(1u << 0)	/* the task completed during this poll */
#define AS_POLL_CANCELLED	(1u << 1)	/* completed with the CANCELLED bit set (aborted) */
#define AS_POLL_NESTED		(1u << 2)	/* polled inside another task's poll */

/*
 * Emitted at the end of a poll (uretprobe on raw::poll).  h.ts_ns is the
 * end, start_ns the entry.  A poll in progress has no record yet: user space
 * reads the per-thread map for those.
 *
 * A task mostly clones and drops its own waker inside its own poll (to
 * register it with a resource); those operations are counted here instead
 * of a waker record each: a ring-buffer record costs the traced thread more
 * than the count.  Clones and drops elsewhere get their own AS_EV_WAKER.
 */
struct as_ev_poll {
	struct as_event_hdr h;
	__u64 task_id;
	__u64 start_ns;
	__u32 type_idx;		/* index of the task vtable (future type) */
	__u32 flags;		/* AS_POLL_* */
	__u32 waker_clones;	/* of this task's waker, during this poll */
	__u32 waker_drops;
};

enum as_waker_op {
	AS_WAKE_BY_VAL	= 1,
	AS_WAKE_BY_REF	= 2,
	AS_WAKER_CLONE	= 3,
	AS_WAKER_DROP	= 4,
};

struct as_ev_waker {
	struct as_event_hdr h;
	__u64 task_id;		/* the task whose waker this is */
	__u64 cur_task_id;	/* task being polled on this thread, 0 if none */
	__u32 op;		/* enum as_waker_op */
	__u32 type_idx;		/* vtable index of task_id */
};

enum as_task_kind {
	AS_TASK_ASYNC		= 1,
	AS_TASK_BLOCKING	= 2,
};

#define AS_LOC_FILE_MAX		128

/*
 * A task was created.  The location is the caller of tokio::spawn where
 * spawn_inner is out of line (file_len == 0 when unknown).
 */
struct as_ev_spawn {
	struct as_event_hdr h;
	__u64 task_id;
	__u64 parent_task_id;	/* task being polled on this thread, 0 if none */
	__u32 kind;		/* enum as_task_kind */
	__u32 type_idx;		/* vtable index, AS_TYPE_UNKNOWN if not read */
	__u32 line;
	__u32 col;
	__u32 file_len;		/* valid bytes in file[], no NUL */
	__u32 pad;
	char file[AS_LOC_FILE_MAX];
};

#define AS_TYPE_UNKNOWN		0xffffffffu

/* AS_EV_COMPLETE / AS_EV_SHUTDOWN / AS_EV_SCHEDULE flags */
#define AS_TASK_IN_POLL		(1u << 0)	/* inside this task's own poll */

struct as_ev_task {
	struct as_event_hdr h;
	__u64 task_id;
	__u32 flags;		/* AS_TASK_* */
	__u32 type_idx;		/* vtable index of task_id */
};

enum as_sock_op {
	AS_SOCK_RECV	= 1,	/* read, readv, recv*: ret = bytes (0: EOF) or -errno */
	AS_SOCK_SEND	= 2,	/* write, writev, send*: ret = bytes or -errno */
	AS_SOCK_CONNECT	= 3,	/* connect(2): ret = 0 or -errno (-EINPROGRESS: non-blocking) */
	AS_SOCK_ACCEPT	= 4,	/* accept/accept4: the listener; ret = the new connection's fd or -errno */
	AS_SOCK_CLOSE	= 5,	/* close(2) of a socket fd, at entry (ret 0) */
};

/*
 * A socket operation of a traced process.  Lengths, addresses and ports
 * only: never payload.  One record per sendmsg/recvmsg the kernel does (so
 * a sendmmsg of 3 messages is 3 records).  Addresses are in network byte
 * order, IPv4 in the first 4 bytes; ports in host order.
 */
struct as_ev_sock {
	struct as_event_hdr h;
	__u64 task_id;		/* task polled on this thread, 0 if none */
	__u64 sk;		/* kernel address of the struct sock: tells sockets apart while open */
	__u64 ino;		/* socket inode ("socket:[ino]" in /proc/PID/fd), 0 if unknown */
	__s64 ret;
	__s32 fd;		/* -1 when the system call is not one with the fd first */
	__u16 op;		/* enum as_sock_op */
	__u16 family;		/* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 proto;		/* IPPROTO_TCP, IPPROTO_UDP, ... (0 for AF_UNIX) */
	__u16 type;		/* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

/*
 * AS_EV_SOCK_OP: a send or receive on a socket an AS_EV_SOCK record
 * described (same ino) less than a second before: no addresses, 48 bytes
 * less on the hottest record.
 */
struct as_ev_sock_op {
	struct as_event_hdr h;
	__u64 task_id;		/* task polled on this thread, 0 if none */
	__u64 ino;		/* never 0: the socket of an earlier AS_EV_SOCK */
	__s32 ret;		/* bytes (0: EOF) or -errno */
	__s32 fd;
	__u16 op;		/* AS_SOCK_RECV or AS_SOCK_SEND */
	__u16 pad[3];
};

enum as_rt_phase {
	AS_RT_IO_EVENTS	= 1,	/* epoll_wait returned: the I/O driver dispatches readiness next */
	AS_RT_TIMERS	= 2,	/* tokio's time driver fires expired timers (process_at_time) */
	AS_RT_DRIVER_DONE = 3,	/* io::Driver::turn or process_at_time returned */
};

/*
 * A thread outside any task's poll starts one of the runtime's wake
 * phases; every wake it makes outside a poll until its next poll or phase
 * belongs to this one.  After AS_RT_DRIVER_DONE a parked worker wakes the
 * tasks that yielded.  (Inside a poll, a nested runtime: not recorded.)
 */
struct as_ev_runtime {
	struct as_event_hdr h;
	__u32 phase;		/* enum as_rt_phase */
	__s32 value;		/* AS_RT_IO_EVENTS: epoll_wait's result */
};

/* Any record, large enough for the biggest type (user space copies into it). */
union as_record {
	struct as_event_hdr h;
	struct as_ev_poll poll;
	struct as_ev_waker waker;
	struct as_ev_spawn spawn;
	struct as_ev_task task;
	struct as_ev_sock sock;
	struct as_ev_sock_op sock_op;
	struct as_ev_runtime rt;
};

/*
 * Per-CPU counters kept in the kernel, so totals stay exact when the ring
 * buffer is full.  Summed over CPUs by user space.
 */
enum as_counter {
	AS_CNT_POLL = 0,		/* polls finished (uretprobe hits) */
	AS_CNT_WAKE_BY_VAL,
	AS_CNT_WAKE_BY_REF,
	AS_CNT_WAKER_CLONE,
	AS_CNT_WAKER_DROP,
	AS_CNT_WAKER_FOLDED,		/* clones and drops counted in their poll's record, no record of their own */
	AS_CNT_SPAWN,
	AS_CNT_SPAWN_BLOCKING,
	AS_CNT_COMPLETE,
	AS_CNT_SHUTDOWN,
	AS_CNT_SCHEDULE,
	AS_CNT_EMITTED,			/* records submitted to the ring buffer */
	AS_CNT_DROPPED,			/* records lost: ring buffer full */
	AS_CNT_UNKNOWN_VTABLE,		/* header whose vtable is not a known task vtable */
	AS_CNT_READ_FAULT,		/* bpf_probe_read_user failed */
	AS_CNT_POLL_ORPHAN_RET,		/* poll return without a matching entry */
	AS_CNT_POLL_STALE,		/* entries discarded: their return never came */
	AS_CNT_POLL_TOO_DEEP,		/* nesting beyond AS_POLL_DEPTH */
	AS_CNT__MAX
};

/* Dropped records per event type live at AS_CNT_DROP_BASE + type. */
#define AS_CNT_DROP_BASE	AS_CNT__MAX
#define AS_CNT_NR		(AS_CNT_DROP_BASE + AS_EV__MAX)

/* Per-CPU counters of bpf/sock.bpf.c (its own map), summed by user space. */
enum as_sock_counter {
	AS_SCNT_RECV = 0,		/* recv operations of traced processes */
	AS_SCNT_SEND,
	AS_SCNT_RECV_BYTES,
	AS_SCNT_SEND_BYTES,
	AS_SCNT_WOULD_BLOCK,		/* -EAGAIN results (and -EINPROGRESS connects) */
	AS_SCNT_CONNECT,
	AS_SCNT_ACCEPT,
	AS_SCNT_CLOSE,
	AS_SCNT_RUNTIME,		/* runtime phase records */
	AS_SCNT_IN_POLL,		/* socket operations inside a task's poll */
	AS_SCNT__MAX
};

/* Key and value of the task-vtable map, filled by user space before attach. */
struct as_vtable_key {
	__u32 pid;
	__u32 pad;
	__u64 addr;		/* run-time address of the vtable in pid */
};

struct as_vtable_val {
	__u32 id_offset;	/* Vtable.id_offset: where the task id sits */
	__u32 type_idx;		/* index into user space's vtable table */
	__u32 flags;		/* AS_VT_*, set by the BPF side (user space writes 0) */
	__u32 pad;
};

/*
 * A task of this type completed inside its poll with the completion probe
 * firing: Harness::complete is out of line in this type's raw::poll, so
 * every task of the type that is polled passes that probe before it can be
 * freed, and the task cache may keep such tasks (tokio.bpf.c).
 */
#define AS_VT_COMPLETE_PROBED	(1u << 0)

/*
 * Key and value of the task cache (tokio.bpf.c's `tasks`): which task sits
 * at a Header address, from its spawn (or first sight) to its completion.
 */
struct as_task_key {
	__u32 pid;
	__u32 pad;
	__u64 hdr;		/* run-time address of the task's Header in pid */
};

struct as_task_val {
	__u64 id;
	__u32 type_idx;
	__u32 pad;
};

/* Per-thread poll stack, keyed by tid. */
#define AS_POLL_DEPTH		4

struct as_poll_frame {
	__u64 hdr;		/* task Header address */
	__u64 task_id;
	__u64 start_ns;
	__u64 sp;		/* stack pointer at entry: matches the return */
	__u32 type_idx;
	__u32 flags;		/* AS_POLL_* collected during the poll */
	__u32 waker_clones;	/* of this task's own waker, so far in this poll */
	__u32 waker_drops;
};

struct as_thread_state {
	struct as_poll_frame frames[AS_POLL_DEPTH];
	__u32 depth;
	__u32 pad;
	/* spawn_inner entry leaves its &Location here for the spawn return */
	__u64 spawn_loc;
	__u64 spawn_sp;
};

/* Pure helpers shared by both sides. */
static inline int as_event_min_size(unsigned int type)
{
	switch (type) {
	case AS_EV_POLL:	return sizeof(struct as_ev_poll);
	case AS_EV_WAKER:	return sizeof(struct as_ev_waker);
	case AS_EV_SPAWN:	return sizeof(struct as_ev_spawn);
	case AS_EV_COMPLETE:
	case AS_EV_SHUTDOWN:
	case AS_EV_SCHEDULE:	return sizeof(struct as_ev_task);
	case AS_EV_SOCK:	return sizeof(struct as_ev_sock);
	case AS_EV_RUNTIME:	return sizeof(struct as_ev_runtime);
	case AS_EV_SOCK_OP:	return sizeof(struct as_ev_sock_op);
	default:		return -1;
	}
}

_Static_assert(sizeof(struct as_event_hdr) == 24, "as_event_hdr size");
_Static_assert(sizeof(struct as_ev_poll) == 56, "as_ev_poll size");
_Static_assert(sizeof(struct as_ev_waker) == 48, "as_ev_waker size");
_Static_assert(sizeof(struct as_ev_spawn) == 64 + AS_LOC_FILE_MAX, "as_ev_spawn size");
_Static_assert(sizeof(struct as_ev_task) == 40, "as_ev_task size");
_Static_assert(sizeof(struct as_ev_sock) == 104, "as_ev_sock size");
_Static_assert(sizeof(struct as_ev_runtime) == 32, "as_ev_runtime size");
_Static_assert(sizeof(struct as_ev_sock_op) == 56, "as_ev_sock_op size");
_Static_assert(sizeof(struct as_vtable_key) == 16, "as_vtable_key size");
_Static_assert(sizeof(struct as_vtable_val) == 16, "as_vtable_val size");
_Static_assert(sizeof(struct as_task_key) == 16, "as_task_key size");
_Static_assert(sizeof(struct as_task_val) == 16, "as_task_val size");
_Static_assert(sizeof(struct as_poll_frame) == 48, "as_poll_frame size");
_Static_assert(sizeof(struct as_thread_state) == 48 * AS_POLL_DEPTH + 24, "as_thread_state size");

#endif /* ASYNCSCOPE_ABI_H */
