// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The real sock.bpf.c programs, sharing tokio.bpf.c's maps as the tracer
 * does, watching this test's own loopback TCP traffic: every record is
 * checked exactly (operation, result, fd, ports, the task from the shared
 * per-thread poll stack), and what a socket operation costs with the
 * programs attached is measured and printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "asyncscope.h"
#include "sock.skel.h"
#include "tokio.skel.h"

#define MAX_RECS	64
#define TASK_ID		77

static struct tokio_bpf *tok;
static struct sock_bpf *sk;
static struct ring_buffer *rb;
static struct as_ev_sock socks[MAX_RECS];	/* AS_EV_SOCK_OP ones with zeroed addresses */
static bool sock_short[MAX_RECS];
static int nr_socks;
static struct as_ev_runtime rts[MAX_RECS];
static int nr_rts;

static int on_rec(void *ctx, void *data, size_t sz)
{
	const struct as_event_hdr *h = data;

	(void)ctx;
	assert_int_equal(h->size, sz);
	if (h->type == AS_EV_SOCK && nr_socks < MAX_RECS) {
		assert_int_equal(sz, sizeof(struct as_ev_sock));
		sock_short[nr_socks] = false;
		memcpy(&socks[nr_socks++], data, sz);
	} else if (h->type == AS_EV_SOCK_OP && nr_socks < MAX_RECS) {
		const struct as_ev_sock_op *o = data;

		assert_int_equal(sz, sizeof(*o));
		socks[nr_socks] = (struct as_ev_sock){ .h = o->h, .task_id = o->task_id,
						       .ino = o->ino, .ret = o->ret, .fd = o->fd,
						       .op = o->op };
		sock_short[nr_socks++] = true;
	} else if (h->type == AS_EV_RUNTIME && nr_rts < MAX_RECS) {
		assert_int_equal(sz, sizeof(struct as_ev_runtime));
		memcpy(&rts[nr_rts++], data, sz);
	}
	return 0;
}

static void drain(void)
{
	nr_socks = 0;
	nr_rts = 0;
	ring_buffer__consume(rb);
}

static void set_traced(uint32_t pid)
{
	sk->bss->sock_pids[0] = pid;
}

/* This thread "polls" task TASK_ID, as tokio.bpf.c's poll_enter would say. */
static void set_polling(int on)
{
	struct as_thread_state st = { .depth = on ? 1 : 0 };
	/* the map is task storage: a thread's entry is keyed by a pidfd of it */
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)syscall(SYS_gettid), O_EXCL /* PIDFD_THREAD */);

	assert_true(fd >= 0);
	st.frames[0].task_id = TASK_ID;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(tok->maps.threads), &fd, &st, BPF_ANY), 0);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	tok = tokio_bpf__open();
	assert_non_null(tok);
	assert_int_equal(bpf_map__set_max_entries(tok->maps.events, 1 << 20), 0);
	if (tokio_bpf__load(tok)) {
		fprintf(stderr, "bpf: tokio.bpf.c failed to load\n");
		return -1;
	}
	sk = sock_bpf__open();
	assert_non_null(sk);
	assert_int_equal(bpf_map__reuse_fd(sk->maps.events, bpf_map__fd(tok->maps.events)), 0);
	assert_int_equal(bpf_map__reuse_fd(sk->maps.counters, bpf_map__fd(tok->maps.counters)), 0);
	assert_int_equal(bpf_map__reuse_fd(sk->maps.threads, bpf_map__fd(tok->maps.threads)), 0);
	bpf_program__set_autoattach(sk->progs.rt_phase, false);
	if (sock_bpf__load(sk)) {
		fprintf(stderr, "bpf: sock.bpf.c failed to load (verifier log above)\n");
		return -1;
	}
	assert_int_equal(sock_bpf__attach(sk), 0);
	rb = ring_buffer__new(bpf_map__fd(tok->maps.events), on_rec, NULL, NULL);
	assert_non_null(rb);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ring_buffer__free(rb);
	sock_bpf__destroy(sk);
	tokio_bpf__destroy(tok);
	return 0;
}

/* A connected loopback pair: *lfd the listener, *cfd the client (non-blocking), *afd accepted. */
static void tcp_pair(int *lfd, int *cfd, int *afd, uint16_t *lport)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1;

	*lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(*lfd >= 0);
	assert_int_equal(bind(*lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*lfd, 4), 0);
	assert_int_equal(getsockname(*lfd, (struct sockaddr *)&a, &len), 0);
	*lport = ntohs(a.sin_port);
	/* nothing to accept yet: would block */
	assert_int_equal(accept4(*lfd, NULL, NULL, SOCK_NONBLOCK), -1);
	assert_int_equal(errno, EAGAIN);
	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(*cfd >= 0);
	setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(*cfd, (struct sockaddr *)&a, sizeof(a)))
		assert_int_equal(errno, EINPROGRESS);
	for (int i = 0; i < 1000; i++) {
		*afd = accept4(*lfd, NULL, NULL, SOCK_NONBLOCK);
		if (*afd >= 0)
			break;
		usleep(100);
	}
	assert_true(*afd >= 0);
}

/* Record i: op and result; full (with addresses) or short (a socket already described). */
static const struct as_ev_sock *sock_rec(int i, uint32_t op, int64_t ret, bool full)
{
	assert_true(i < nr_socks);
	assert_int_equal(socks[i].h.pid, getpid());
	assert_int_equal(socks[i].op, op);
	assert_int_equal(socks[i].ret, ret);
	assert_int_equal(sock_short[i], !full);
	if (full) {
		assert_int_equal(socks[i].family, AF_INET);
		assert_int_equal(socks[i].proto, IPPROTO_TCP);
		assert_int_equal(socks[i].type, SOCK_STREAM);
	}
	assert_true(socks[i].ino != 0);
	return &socks[i];
}

static void test_records(void **state)
{
	char buf[256] = { 0 };
	struct iovec iov[2] = { { buf, 10 }, { buf + 10, 20 } };
	int lfd, cfd, afd, efd;
	uint16_t lport;
	const struct as_ev_sock *e;
	struct epoll_event ev = { .events = EPOLLIN };

	(void)state;
	set_traced(getpid());
	set_polling(1);
	drain();
	tcp_pair(&lfd, &cfd, &afd, &lport);
	assert_int_equal(send(cfd, buf, 100, 0), 100);
	assert_int_equal(writev(cfd, iov, 2), 30);
	assert_int_equal(read(afd, buf, sizeof(buf)), 130);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), -1);	/* EAGAIN */
	set_polling(0);
	assert_int_equal(write(afd, buf, 7), 7);		/* outside any poll */
	efd = epoll_create1(0);
	assert_int_equal(epoll_ctl(efd, EPOLL_CTL_ADD, cfd, &ev), 0);
	assert_int_equal(epoll_wait(efd, &ev, 1, 1000), 1);
	close(efd);
	close(cfd);
	drain();

	/*
	 * accept would block, connect in progress, accept (the listener's, ret =
	 * new fd): full records.  A socket's first send or receive describes it
	 * again (a system call's tracepoint cannot reach the socket's storage,
	 * where the first is noted); its later sends and receives are short.
	 */
	assert_int_equal(nr_socks, 9);
	e = sock_rec(0, AS_SOCK_ACCEPT, -EAGAIN, true);
	assert_int_equal(e->fd, lfd);
	assert_int_equal(e->lport, lport);
	assert_int_equal(e->rport, 0);
	assert_int_equal(e->task_id, TASK_ID);
	e = sock_rec(1, AS_SOCK_CONNECT, -EINPROGRESS, true);
	assert_int_equal(e->fd, cfd);
	assert_int_equal(e->rport, lport);
	assert_true(e->lport != 0);
	assert_int_equal(e->laddr[0], 127);
	assert_int_equal(e->raddr[3], 1);
	e = sock_rec(2, AS_SOCK_ACCEPT, afd, true);
	assert_int_equal(e->fd, lfd);
	assert_int_equal(e->ino, socks[0].ino);
	/* send, then writev, from the client: fd and socket (the one its connect named) */
	e = sock_rec(3, AS_SOCK_SEND, 100, true);
	assert_int_equal(e->fd, cfd);
	assert_int_equal(e->ino, socks[1].ino);
	assert_int_equal(e->rport, lport);
	assert_int_equal(e->task_id, TASK_ID);
	e = sock_rec(4, AS_SOCK_SEND, 30, false);
	assert_int_equal(e->fd, cfd);
	assert_int_equal(e->ino, socks[1].ino);
	/* the accepted side, first seen: described; then would block */
	e = sock_rec(5, AS_SOCK_RECV, 130, true);
	assert_int_equal(e->fd, afd);
	assert_int_equal(e->lport, lport);
	assert_int_equal(e->rport, socks[1].lport);
	e = sock_rec(6, AS_SOCK_RECV, -EAGAIN, false);
	assert_int_equal(e->ino, socks[5].ino);
	/* outside any poll: no task */
	e = sock_rec(7, AS_SOCK_SEND, 7, false);
	assert_int_equal(e->task_id, 0);
	e = sock_rec(8, AS_SOCK_CLOSE, 0, true);
	assert_int_equal(e->fd, cfd);
	/* epoll_wait returned one event */
	assert_int_equal(nr_rts, 1);
	assert_int_equal(rts[0].phase, AS_RT_IO_EVENTS);
	assert_int_equal(rts[0].value, 1);

	close(afd);
	close(lfd);
	drain();

	/* another process's pid: nothing recorded */
	set_traced(1);
	tcp_pair(&lfd, &cfd, &afd, &lport);
	assert_int_equal(send(cfd, buf, 5, 0), 5);
	close(cfd);
	close(afd);
	close(lfd);
	drain();
	assert_int_equal(nr_socks, 0);
	assert_int_equal(nr_rts, 0);
	set_traced(0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ns per send+recv pair of 64 bytes on a connected pair */
static double pair_cost(int a, int b, int n)
{
	char buf[64] = { 0 };
	uint64_t t0 = now_ns();

	for (int i = 0; i < n; i++) {
		if (send(a, buf, sizeof(buf), 0) != sizeof(buf) ||
		    recv(b, buf, sizeof(buf), 0) != sizeof(buf))
			fail_msg("send/recv: %s", strerror(errno));
		if ((i & 1023) == 1023)
			ring_buffer__consume(rb);
	}
	return (double)(now_ns() - t0) / n;
}

/* The kernel's own run time and run count of a program (BPF_ENABLE_STATS). */
static void prog_stats(struct bpf_program *p, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len), 0);
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
}

/* ns per run of the send and recv programs over n pairs, as the kernel counts them */
static double prog_cost(int a, int b, int n)
{
	uint64_t ns0, c0, ns1, c1, ns2, c2, ns3, c3;

	prog_stats(sk->progs.sock_send, &ns0, &c0);
	prog_stats(sk->progs.sock_recv, &ns1, &c1);
	pair_cost(a, b, n);
	prog_stats(sk->progs.sock_send, &ns2, &c2);
	prog_stats(sk->progs.sock_recv, &ns3, &c3);
	assert_true(c2 - c0 >= (uint64_t)n && c3 - c1 >= (uint64_t)n);
	return (double)(ns2 - ns0 + ns3 - ns1) / (double)(c2 - c0 + c3 - c1);
}

/*
 * What the programs cost per socket operation, timed by the kernel itself
 * (BPF_ENABLE_STATS: immune to the machine's other load, which makes
 * wall-clock differences of a few hundred ns meaningless on a shared VM):
 * with another process traced (the pid check only), and with this one
 * traced (a record per operation; after the first, short ones).  A UNIX
 * stream pair takes the same sock_sendmsg/sock_recvmsg path as TCP.
 */
static void test_cost(void **state)
{
	double other_ns, traced_ns;
	int sv[2], n = 20000, stats_fd;
	double wall;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	set_polling(1);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		printf("sock.bpf.c cost: BPF_ENABLE_STATS unavailable (%s): not measured\n",
		       strerror(errno));
		goto out;
	}
	set_traced(1);
	other_ns = prog_cost(sv[0], sv[1], n);
	set_traced(getpid());
	wall = pair_cost(sv[0], sv[1], 1000);
	traced_ns = prog_cost(sv[0], sv[1], n);
	set_traced(0);
	drain();
	close(stats_fd);
	printf("sock.bpf.c program run time per socket operation (kernel BPF stats, %d send+recv "
	       "pairs of 64 B; a pair takes ~%.0f ns here): another pid traced %.0f ns, traced %.0f ns\n",
	       n, wall, other_ns, traced_ns);
out:
	set_polling(0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
