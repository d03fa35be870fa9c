// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a traced process does with its sockets, and when its runtime threads
 * start a wake phase, attributed to the tokio task being polled on the
 * thread at that moment.
 *
 * Shares three maps with tokio.bpf.c (user space hands their fds over with
 * bpf_map__reuse_fd before load): `threads`, the per-thread poll stack that
 * names the task being polled; `events`, the one ring buffer, so user space
 * sees socket records in the same order as the tokio records of the same
 * thread; `counters`, for the ring buffer's emitted/dropped accounting.
 * They and the record helpers are defined once, in records.bpf.h.
 *
 * Socket operations come from the sock tracepoints every sendmsg/recvmsg
 * passes (sock_send_length, sock_recv_length: the struct sock and the
 * result, no file-table walk), connect/accept/close from the syscalls
 * tracepoints (their fd through the file table).  Lengths, addresses and
 * ports only: no payload is ever read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "asyncscope.h"
#include "records.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET		2
#define AF_INET6	10
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define EAGAIN		11
#define EINPROGRESS	115

/* x86-64 system calls whose first argument is the socket's fd */
#define NR_read		0
#define NR_write	1
#define NR_readv	19
#define NR_writev	20
#define NR_sendfile	40
#define NR_sendto	44
#define NR_recvfrom	45
#define NR_sendmsg	46
#define NR_recvmsg	47
#define NR_recvmmsg	299
#define NR_sendmmsg	307

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AS_SCNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_counters SEC(".maps");

/*
 * What this tracer knows of a socket, kept with the socket itself (socket
 * local storage: no hash lookup, and it goes when the socket is freed, so
 * a reused address or inode number never inherits it): its inode, read
 * once, and when an AS_EV_SOCK record last described it.  Its sends and
 * receives go out as the shorter AS_EV_SOCK_OP for a second, then the next
 * one describes the socket again, so that any second of a recording (a
 * flight recorder's window) names the sockets it uses.
 */
#define AS_DESCRIBE_NS	1000000000ull

struct sock_note {
	__u64 ino;
	__u64 described_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_note);
} sock_notes SEC(".maps");

/*
 * The processes traced, set by user space (0: a free slot).  The sock and
 * syscalls tracepoints fire for every process on the machine: this is the
 * first and only check they make for all others.
 */
#define AS_SOCK_PIDS	4
__u32 sock_pids[AS_SOCK_PIDS];

static __always_inline int traced(__u32 pid)
{
#pragma unroll
	for (int i = 0; i < AS_SOCK_PIDS; i++)
		if (sock_pids[i] == pid)
			return pid != 0;
	return 0;
}

/* n more of this file's own counter idx (enum as_sock_counter) */
static __always_inline void sock_count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sock_counters, &idx);

	if (v)
		*v += n;
}

/* The task being polled on this thread (tokio.bpf.c's stack), 0 if none. */
static __always_inline __u64 cur_task(void)
{
	return cur_task_id(thread_state_get(0));
}

/*
 * Identity, protocol and addresses of sk into e (kernel reads only).
 * RD(p, field) reads a field: directly where sk is a BTF pointer (the
 * tp_btf programs: a load the verifier guards, no helper call), through
 * bpf_probe_read_kernel where it is a plain address (the fd walk).
 */
#define FILL_SOCK(e, sk, RD)								\
	do {										\
		__u16 family_ = RD(sk, __sk_common.skc_family);			\
		struct socket *so_ = RD(sk, sk_socket);					\
		struct file *f_ = so_ ? RD(so_, file) : NULL;				\
		struct inode *in_ = f_ ? RD(f_, f_inode) : NULL;			\
											\
		(e)->sk = (__u64)(sk);							\
		(e)->ino = in_ ? RD(in_, i_ino) : 0;					\
		(e)->family = family_;							\
		(e)->proto = RD(sk, sk_protocol);					\
		(e)->type = RD(sk, sk_type);						\
		__builtin_memset((e)->laddr, 0, sizeof((e)->laddr));			\
		__builtin_memset((e)->raddr, 0, sizeof((e)->raddr));			\
		(e)->lport = 0;								\
		(e)->rport = 0;								\
		if (family_ == AF_INET) {						\
			*(__u32 *)(e)->laddr = RD(sk, __sk_common.skc_rcv_saddr);	\
			*(__u32 *)(e)->raddr = RD(sk, __sk_common.skc_daddr);		\
		} else if (family_ == AF_INET6) {					\
			*(struct in6_addr *)(e)->laddr =				\
				RD(sk, __sk_common.skc_v6_rcv_saddr);			\
			*(struct in6_addr *)(e)->raddr = RD(sk, __sk_common.skc_v6_daddr); \
		}									\
		if (family_ == AF_INET || family_ == AF_INET6) {			\
			(e)->lport = RD(sk, __sk_common.skc_num);			\
			(e)->rport = bpf_ntohs(RD(sk, __sk_common.skc_dport));		\
		}									\
	} while (0)

#define RD_BTF(p, field)	((p)->field)
#define RD_CORE(p, field)	BPF_CORE_READ(p, field)

static __always_inline void fill_sock(struct as_ev_sock *e, struct sock *sk)
{
	FILL_SOCK(e, sk, RD_CORE);
}

static __always_inline void fill_sock_btf(struct as_ev_sock *e, struct sock *sk)
{
	FILL_SOCK(e, sk, RD_BTF);
}

/* A send or receive on a socket already described: no addresses. */
static __always_inline int emit_sock_op(__u64 pid_tgid, __u64 now, __u64 ino, __u32 op,
					__s64 ret, __s32 fd, __u64 task_id)
{
	struct as_ev_sock_op *e = reserve(sizeof(*e), AS_EV_SOCK_OP);

	if (!e)
		return 0;
	fill_hdr(&e->h, AS_EV_SOCK_OP, sizeof(*e), pid_tgid, now);
	e->task_id = task_id;
	e->ino = ino;
	e->ret = (__s32)ret;
	e->fd = fd;
	e->op = op;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	submit(e);
	return 0;
}

static __always_inline void emit_sock(__u64 pid_tgid, struct sock *sk, __u32 op, __s64 ret,
				      __s32 fd, struct sock_note *note)
{
	struct as_ev_sock *e;
	__u64 task_id = cur_task(), now = bpf_ktime_get_ns();

	if (task_id)
		sock_count(AS_SCNT_IN_POLL, 1);
	if (ret == -EAGAIN || (op == AS_SOCK_CONNECT && ret == -EINPROGRESS))
		sock_count(AS_SCNT_WOULD_BLOCK, 1);
	if (note && note->ino && now - note->described_ns < AS_DESCRIBE_NS) {
		emit_sock_op(pid_tgid, now, note->ino, op, ret, fd, task_id);
		return;
	}
	e = reserve(sizeof(*e), AS_EV_SOCK);
	if (!e)
		return;
	fill_hdr(&e->h, AS_EV_SOCK, sizeof(*e), pid_tgid, now);
	e->task_id = task_id;
	e->ret = ret;
	e->fd = fd;
	e->op = op;
	if (note)
		fill_sock_btf(e, sk);
	else
		fill_sock(e, sk);
	/* described now: its sends and receives go short for a second */
	if (note && e->ino) {
		note->ino = e->ino;
		note->described_ns = now;
	}
	submit(e);
}

/*
 * The fd of the system call in progress when it is one whose first
 * argument is a socket fd (the saved user registers hold the arguments).
 */
static __always_inline __s32 syscall_fd(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = regs->orig_ax;

	switch (nr) {
	case NR_read: case NR_write: case NR_readv: case NR_writev: case NR_sendfile:
	case NR_sendto: case NR_recvfrom: case NR_sendmsg: case NR_recvmsg:
	case NR_recvmmsg: case NR_sendmmsg:
		return (__s32)regs->di;
	default:
		return -1;
	}
}

static __always_inline int on_msg(struct sock *sk, int ret, __u32 op)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!traced(pid_tgid >> 32))
		return 0;
	sock_count(op == AS_SOCK_SEND ? AS_SCNT_SEND : AS_SCNT_RECV, 1);
	if (ret > 0)
		sock_count(op == AS_SOCK_SEND ? AS_SCNT_SEND_BYTES : AS_SCNT_RECV_BYTES, ret);
	emit_sock(pid_tgid, sk, op, ret, syscall_fd(),
		  bpf_sk_storage_get(&sock_notes, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE));
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return on_msg(sk, ret, AS_SOCK_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return on_msg(sk, ret, AS_SOCK_RECV);
}

/* The socket behind fd in the current process, NULL if fd is not a socket. */
static __always_inline struct sock *sock_of_fd(__s32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	struct socket *sock;
	__u16 mode;

	if (fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* First argument of the system call in progress. */
static __always_inline __s32 syscall_arg0(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return (__s32)BPF_CORE_READ(regs, di);
}

static __always_inline int on_fd_op(__s32 fd, __u32 op, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sock *sk;

	if (!traced(pid_tgid >> 32))
		return 0;
	sk = sock_of_fd(fd);
	if (!sk)
		return 0;
	sock_count(op == AS_SOCK_CONNECT ? AS_SCNT_CONNECT :
				 op == AS_SOCK_ACCEPT ? AS_SCNT_ACCEPT : AS_SCNT_CLOSE, 1);
	emit_sock(pid_tgid, sk, op, ret, fd, NULL);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	return on_fd_op(syscall_arg0(), AS_SOCK_CONNECT, ctx->ret);
}

/* The listener; ret is the new connection's fd, or -errno (-EAGAIN: nothing to accept yet). */
static __always_inline int on_accept(long ret)
{
	return on_fd_op(syscall_arg0(), AS_SOCK_ACCEPT, ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

/* At entry: after the close the fd no longer leads to the socket. */
SEC("tp/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_fd_op((__s32)ctx->args[0], AS_SOCK_CLOSE, 0);
}

static __always_inline int emit_runtime(__u32 phase, __s32 value)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct as_ev_runtime *e;

	/* inside a task's poll it is not the runtime's driver (a nested runtime) */
	if (!traced(pid_tgid >> 32) || cur_task())
		return 0;
	sock_count(AS_SCNT_RUNTIME, 1);
	e = reserve(sizeof(*e), AS_EV_RUNTIME);
	if (!e)
		return 0;
	fill_hdr(&e->h, AS_EV_RUNTIME, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
	e->phase = phase;
	e->value = value;
	submit(e);
	return 0;
}

/*
 * epoll_wait returned events: mio hands them to tokio's I/O driver, which
 * wakes their tasks.  Nothing returned (a timeout), nothing to wake: no record.
 */
static __always_inline int on_epoll(long ret)
{
	return ret > 0 ? emit_runtime(AS_RT_IO_EVENTS, (__s32)ret) : 0;
}

SEC("tp/syscalls/sys_exit_epoll_wait")
int sys_exit_epoll_wait(struct trace_event_raw_sys_exit *ctx)
{
	return on_epoll(ctx->ret);
}

SEC("tp/syscalls/sys_exit_epoll_pwait")
int sys_exit_epoll_pwait(struct trace_event_raw_sys_exit *ctx)
{
	return on_epoll(ctx->ret);
}

SEC("tp/syscalls/sys_exit_epoll_pwait2")
int sys_exit_epoll_pwait2(struct trace_event_raw_sys_exit *ctx)
{
	return on_epoll(ctx->ret);
}

/* Entry or return of tokio's driver functions (user/rt_sites.c); cookie = enum as_rt_phase. */
SEC("uprobe")
int rt_phase(struct pt_regs *ctx)
{
	return emit_runtime((__u32)bpf_get_attach_cookie(ctx), 0);
}
