// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probe_cost: what one uprobe hit costs on this machine, by the instruction
 * at the probe address.
 *
 * The probed functions (probe_cost_fns.S) live in this binary; the bench
 * attaches to itself (its own pid, its own executable) by symbol name and
 * calls them through pc_run().  Every row is measured without and with the
 * probe, rows alternate, the order is reversed on every other repetition,
 * and medians are reported, so that the ratios printed come from one run
 * on one noisy machine.
 *
 * Every measurement is checked: the hits the BPF side counted equal the
 * calls made (and the uretprobe hits, and ring-buffer records submitted,
 * dropped and consumed), the first bytes of the function are the expected
 * ones before attach and again after detach.  Any mismatch makes the exit
 * status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "probe_cost.skel.h"

#define pr_warn(...)	fprintf(stderr, __VA_ARGS__)
#define pr_info(...)	do { if (verbose) fprintf(stderr, __VA_ARGS__); } while (0)

#define PC_EVENT_SIZE	64	/* struct pc_event in bpf/probe_cost.bpf.c */
#define PC_MAX_REPS	64
#define PC_CALIB_CALLS	200
/* above this many ns per probed call, a row gets the "slow" call count */
#define PC_SLOW_NS	6000.0
/* added cost above this multiple of the push row's = single-step */
#define PC_SSTEP_X	4.0

static int verbose;

/* asm, probe_cost_fns.S */
void pc_run(void (*fn)(void), __u64 n, __u64 *scratch, __u64 zf_clear);
#define PC_FNS(X)							\
	X(pc_fn_nop1) X(pc_fn_nop2) X(pc_fn_nop3) X(pc_fn_nop4)		\
	X(pc_fn_nop5) X(pc_fn_nop6) X(pc_fn_nop7) X(pc_fn_nop8)		\
	X(pc_fn_nop9) X(pc_fn_nop10) X(pc_fn_nop11)			\
	X(pc_fn_nop4_disp8) X(pc_fn_nop5_disp8)				\
	X(pc_fn_push_rbx) X(pc_fn_push_r15)				\
	X(pc_fn_jmp32) X(pc_fn_jmp8) X(pc_fn_je8_taken)			\
	X(pc_fn_jne8_taken) X(pc_fn_je32_taken) X(pc_fn_je8_not)	\
	X(pc_fn_jne8_not) X(pc_fn_call32)				\
	X(pc_fn_mov_rdi_rax) X(pc_fn_mov_imm_rax) X(pc_fn_sub_rsp)	\
	X(pc_fn_lock_xadd) X(pc_fn_test_al) X(pc_fn_endbr64)
#define PC_DECL(f) void f(void);
PC_FNS(PC_DECL)

enum pc_mode {
	PC_COUNT,	/* uprobe, per-CPU count */
	PC_COUNT_RET,	/* uprobe + uretprobe, both count */
	PC_RB_NOWAKE,	/* uprobe, ring-buffer record, BPF_RB_NO_WAKEUP, drain every 1 ms */
	PC_RB_WAKE,	/* uprobe, ring-buffer record, default flags, epoll consumer */
};

struct pc_row {
	const char *insn;		/* as printed */
	const char *sym;		/* attach point, by name */
	void (*fn)(void);
	const char *bytes;		/* expected first instruction */
	unsigned int len;
	unsigned int zf_clear;		/* ZF at entry: 0 -> ZF=1 */
	enum pc_mode mode;
};

#define ROW(insn, f, b, zf, mode) \
	{ insn, #f, f, b, sizeof(b) - 1, zf, mode }

static const struct pc_row rows[] = {
	ROW("nopl 0x0(%rax,%rax,1) (nop5)", pc_fn_nop5, "\x0f\x1f\x44\x00\x00", 0, PC_COUNT),
	ROW("nop", pc_fn_nop1, "\x90", 0, PC_COUNT),
	ROW("xchg %ax,%ax", pc_fn_nop2, "\x66\x90", 0, PC_COUNT),
	ROW("nopl (%rax)", pc_fn_nop3, "\x0f\x1f\x00", 0, PC_COUNT),
	ROW("nopl 0x0(%rax)", pc_fn_nop4, "\x0f\x1f\x40\x00", 0, PC_COUNT),
	ROW("nopw 0x0(%rax,%rax,1)", pc_fn_nop6, "\x66\x0f\x1f\x44\x00\x00", 0, PC_COUNT),
	ROW("nopl 0x0(%rax) disp32", pc_fn_nop7, "\x0f\x1f\x80\x00\x00\x00\x00", 0, PC_COUNT),
	ROW("nopl 0x0(%rax,%rax,1) disp32", pc_fn_nop8, "\x0f\x1f\x84\x00\x00\x00\x00\x00", 0, PC_COUNT),
	ROW("nopw 0x0(%rax,%rax,1) disp32", pc_fn_nop9, "\x66\x0f\x1f\x84\x00\x00\x00\x00\x00", 0, PC_COUNT),
	ROW("cs nopw 0x0(%rax,%rax,1)", pc_fn_nop10, "\x66\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00", 0, PC_COUNT),
	ROW("data16 cs nopw 0x0(%rax,%rax,1)", pc_fn_nop11, "\x66\x66\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00", 0, PC_COUNT),
	ROW("nopl 0x8(%rax)", pc_fn_nop4_disp8, "\x0f\x1f\x40\x08", 0, PC_COUNT),
	ROW("nopl 0x8(%rax,%rax,1)", pc_fn_nop5_disp8, "\x0f\x1f\x44\x00\x08", 0, PC_COUNT),
	ROW("push %rbx", pc_fn_push_rbx, "\x53", 0, PC_COUNT),
	ROW("push %r15", pc_fn_push_r15, "\x41\x57", 0, PC_COUNT),
	ROW("jmp rel32", pc_fn_jmp32, "\xe9\x02\x00\x00\x00", 0, PC_COUNT),
	ROW("jmp rel8", pc_fn_jmp8, "\xeb\x02", 0, PC_COUNT),
	ROW("je rel8, taken", pc_fn_je8_taken, "\x74\x02", 0, PC_COUNT),
	ROW("je rel8, not taken", pc_fn_je8_not, "\x74\x01", 1, PC_COUNT),
	ROW("jne rel8, taken", pc_fn_jne8_taken, "\x75\x02", 1, PC_COUNT),
	ROW("jne rel8, not taken", pc_fn_jne8_not, "\x75\x01", 0, PC_COUNT),
	ROW("je rel32, taken", pc_fn_je32_taken, "\x0f\x84\x02\x00\x00\x00", 0, PC_COUNT),
	ROW("call rel32", pc_fn_call32, "\xe8\x01\x00\x00\x00", 0, PC_COUNT),
	ROW("mov %rdi,%rax", pc_fn_mov_rdi_rax, "\x48\x89\xf8", 0, PC_COUNT),
	ROW("mov $0x2a,%rax", pc_fn_mov_imm_rax, "\x48\xc7\xc0\x2a\x00\x00\x00", 0, PC_COUNT),
	ROW("sub $0x18,%rsp", pc_fn_sub_rsp, "\x48\x83\xec\x18", 0, PC_COUNT),
	ROW("lock xadd %rax,(%rdi)", pc_fn_lock_xadd, "\xf0\x48\x0f\xc1\x07", 0, PC_COUNT),
	ROW("test %al,%al", pc_fn_test_al, "\x84\xc0", 0, PC_COUNT),
	ROW("endbr64", pc_fn_endbr64, "\xf3\x0f\x1e\xfa", 0, PC_COUNT),
	/* the cost of a return probe, and of a ring-buffer record per hit */
	ROW("push %rbx", pc_fn_push_rbx, "\x53", 0, PC_COUNT_RET),
	ROW("nop5", pc_fn_nop5, "\x0f\x1f\x44\x00\x00", 0, PC_COUNT_RET),
	ROW("push %rbx", pc_fn_push_rbx, "\x53", 0, PC_RB_NOWAKE),
	ROW("push %rbx", pc_fn_push_rbx, "\x53", 0, PC_RB_WAKE),
	ROW("nop5", pc_fn_nop5, "\x0f\x1f\x44\x00\x00", 0, PC_RB_NOWAKE),
	ROW("nop5", pc_fn_nop5, "\x0f\x1f\x44\x00\x00", 0, PC_RB_WAKE),
};
#define NR_ROWS	(sizeof(rows) / sizeof(rows[0]))

static const char *const mode_names[] = {
	[PC_COUNT]	= "uprobe, count",
	[PC_COUNT_RET]	= "uprobe + uretprobe, count",
	[PC_RB_NOWAKE]	= "uprobe, ringbuf NO_WAKEUP, drain 1 ms",
	[PC_RB_WAKE]	= "uprobe, ringbuf default wakeup, epoll",
};

struct pc_result {
	bool selected;
	__u64 calls;			/* per measurement, set by calibrate() */
	unsigned int nr;		/* repetitions done */
	double base[PC_MAX_REPS];	/* ns/call, no probe */
	double probed[PC_MAX_REPS];	/* ns/call, probe attached */
	__u8 live;			/* first byte while attached */
	int attach_err;			/* the kernel refused the probe: -errno */
	__u64 drops;			/* ring-buffer drops, all repetitions */
};

struct pc_opts {
	__u64 fast_calls;
	__u64 slow_calls;
	unsigned int reps;
	int cpu;			/* -1: the last online CPU */
	const char *filter;		/* substring of the symbol, NULL: all */
};

struct pc_ctx {
	struct pc_opts opts;
	struct probe_cost_bpf *skel;
	struct ring_buffer *rb;
	char exe[PATH_MAX];
	pid_t pid;
	int ncpus;			/* possible CPUs: per-CPU value count */
	__u64 *vals;
	int bench_cpu, consumer_cpu;
	__u64 scratch;			/* lock xadd target */
	/* consumer thread */
	pthread_t thr;
	atomic_int stop;
	enum pc_mode rb_mode;
	__u64 consumed;			/* touched by one thread at a time */
	__u64 bad_size;
	/* verification */
	unsigned int checks, failures;
	struct pc_result res[NR_ROWS];
};

struct pc_counts {
	__u64 entry, ret, events, drops;
};

static int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-n CALLS] [-s CALLS] [-r REPS] [-c CPU] [-f SUBSTR] [-v]\n"
		"  -n CALLS   calls per measurement, fast rows (default 200000)\n"
		"  -s CALLS   calls per measurement, rows slower than %.0f ns/hit (default 20000)\n"
		"  -r REPS    repetitions, alternating rows (default 5, max %d)\n"
		"  -c CPU     pin the calling thread to CPU (default: last online CPU)\n"
		"  -f SUBSTR  only rows whose symbol contains SUBSTR (pc_fn_nop5, pc_fn_push_rbx, ...)\n"
		"  -v         libbpf debug output\n",
		prog, PC_SLOW_NS, PC_MAX_REPS);
}

static int parse_args(int argc, char **argv, struct pc_opts *o)
{
	__u64 v;
	int opt;

	*o = (struct pc_opts){ .fast_calls = 200000, .slow_calls = 20000, .reps = 5, .cpu = -1 };
	while ((opt = getopt(argc, argv, "n:s:r:c:f:vh")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_u64(optarg, 1000, 1ULL << 32, &o->fast_calls))
				goto bad;
			break;
		case 's':
			if (parse_u64(optarg, 100, 1ULL << 32, &o->slow_calls))
				goto bad;
			break;
		case 'r':
			if (parse_u64(optarg, 1, PC_MAX_REPS, &v))
				goto bad;
			o->reps = v;
			break;
		case 'c':
			if (parse_u64(optarg, 0, CPU_SETSIZE - 1, &v))
				goto bad;
			o->cpu = v;
			break;
		case 'f':
			o->filter = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(0);
		default:
			usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return -EINVAL;
	}
	return 0;
bad:
	pr_warn("probe_cost: invalid value '%s' for -%c\n", optarg, opt);
	return -EINVAL;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) ? -EINVAL : 0;
}

static int sum_counter(struct pc_ctx *c, struct bpf_map *map, __u64 *out)
{
	__u32 zero = 0;
	int i, err;

	err = bpf_map__lookup_elem(map, &zero, sizeof(zero), c->vals,
				   sizeof(*c->vals) * c->ncpus, 0);
	if (err)
		return err;
	*out = 0;
	for (i = 0; i < c->ncpus; i++)
		*out += c->vals[i];
	return 0;
}

static int read_counts(struct pc_ctx *c, struct pc_counts *pc)
{
	struct probe_cost_bpf *s = c->skel;
	int err;

	err = sum_counter(c, s->maps.entry_hits, &pc->entry);
	if (!err)
		err = sum_counter(c, s->maps.ret_hits, &pc->ret);
	if (!err)
		err = sum_counter(c, s->maps.rb_events, &pc->events);
	if (!err)
		err = sum_counter(c, s->maps.rb_drops, &pc->drops);
	if (err)
		pr_warn("probe_cost: cannot read counters: %s\n", strerror(-err));
	return err;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct pc_ctx *c = ctx;

	(void)data;
	if (size != PC_EVENT_SIZE)
		c->bad_size++;
	c->consumed++;
	return 0;
}

static void *consumer(void *arg)
{
	const struct timespec ms = { .tv_nsec = 1000000 };
	struct pc_ctx *c = arg;

	pin_self(c->consumer_cpu);
	while (!atomic_load(&c->stop)) {
		if (c->rb_mode == PC_RB_NOWAKE) {
			ring_buffer__consume(c->rb);
			nanosleep(&ms, NULL);
		} else {
			ring_buffer__poll(c->rb, 100);
		}
	}
	return NULL;
}

/* strerror() has no text for the kernel-internal ENOTSUPP (524) */
static const char *errname(int err)
{
	static char buf[64];

	if (err == -524)
		return "ENOTSUPP (524, kernel-internal: instruction not supported)";
	snprintf(buf, sizeof(buf), "%s (%d)", strerror(-err), -err);
	return buf;
}

static bool check(struct pc_ctx *c, bool ok, const struct pc_row *r, const char *what,
		  __u64 got, __u64 want)
{
	c->checks++;
	if (ok)
		return true;
	c->failures++;
	pr_warn("probe_cost: CHECK FAILED %s [%s]: %s: got %llu, want %llu\n",
		r->sym, mode_names[r->mode], what, (unsigned long long)got,
		(unsigned long long)want);
	return false;
}

static bool bytes_ok(struct pc_ctx *c, const struct pc_row *r, const char *when)
{
	const volatile __u8 *p = (const volatile __u8 *)r->fn;
	unsigned int i;

	for (i = 0; i < r->len; i++)
		if (p[i] != (__u8)r->bytes[i])
			return check(c, false, r, when, p[i], (__u8)r->bytes[i]);
	return check(c, true, r, when, 0, 0);
}

static struct bpf_program *entry_prog(struct pc_ctx *c, enum pc_mode mode)
{
	switch (mode) {
	case PC_RB_NOWAKE:
		return c->skel->progs.pc_rb_nowake;
	case PC_RB_WAKE:
		return c->skel->progs.pc_rb_wake;
	default:
		return c->skel->progs.pc_count;
	}
}

static int attach_row(struct pc_ctx *c, const struct pc_row *r, struct bpf_link *links[2])
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = r->sym);
	int err;

	links[0] = bpf_program__attach_uprobe_opts(entry_prog(c, r->mode), c->pid,
						   c->exe, 0, &o);
	if (!links[0]) {
		err = -errno;
		pr_info("probe_cost: cannot attach uprobe to %s:%s: %s\n", c->exe,
			r->sym, errname(err));
		return err;
	}
	if (r->mode != PC_COUNT_RET)
		return 0;
	o.retprobe = true;
	links[1] = bpf_program__attach_uprobe_opts(c->skel->progs.pc_count_ret, c->pid,
						   c->exe, 0, &o);
	if (!links[1]) {
		err = -errno;
		pr_warn("probe_cost: cannot attach uretprobe to %s:%s: %s\n", c->exe,
			r->sym, errname(err));
		bpf_link__destroy(links[0]);
		links[0] = NULL;
		return err;
	}
	return 0;
}

static void drain(struct pc_ctx *c)
{
	while (ring_buffer__consume(c->rb) > 0)
		;
}

/*
 * One measurement of one row: n calls without a probe, then attach, warm
 * up (the first hit of a nop5 is what makes the kernel optimise it), n calls
 * with the probe, detach.  ns per call in *base and *probed.
 */
static int measure(struct pc_ctx *c, const struct pc_row *r, struct pc_result *res,
		   __u64 n, double *base, double *probed)
{
	bool lock = r->fn == pc_fn_lock_xadd, rb = r->mode >= PC_RB_NOWAKE;
	const struct timespec settle = { .tv_nsec = 2000000 };
	struct bpf_link *links[2] = {};
	struct pc_counts a, b;
	__u64 s0, warm = n / 100 + 10;
	double t0;
	int err;

	if (!bytes_ok(c, r, "bytes before attach"))
		return -EINVAL;

	err = read_counts(c, &a);
	if (err)
		return err;
	s0 = c->scratch;
	t0 = now_ns();
	pc_run(r->fn, n, &c->scratch, r->zf_clear);
	*base = (now_ns() - t0) / n;
	err = read_counts(c, &b);
	if (err)
		return err;
	check(c, b.entry == a.entry, r, "hits without probe", b.entry - a.entry, 0);
	check(c, c->scratch - s0 == (lock ? n : 0), r, "lock xadd adds without probe",
	      c->scratch - s0, lock ? n : 0);

	err = attach_row(c, r, links);
	if (err) {
		res->attach_err = err;
		return err;
	}
	pc_run(r->fn, warm, &c->scratch, r->zf_clear);
	res->live = *(const volatile __u8 *)r->fn;
	if (rb) {
		drain(c);
		c->consumed = c->bad_size = 0;
		c->rb_mode = r->mode;
		atomic_store(&c->stop, 0);
		err = pthread_create(&c->thr, NULL, consumer, c);
		if (err) {
			err = -err;
			pr_warn("probe_cost: cannot start consumer: %s\n", strerror(-err));
			goto detach;
		}
		/* let it block in epoll_wait / sleep before the clock starts */
		nanosleep(&settle, NULL);
	}

	err = read_counts(c, &a);
	if (err)
		goto stop;
	s0 = c->scratch;
	t0 = now_ns();
	pc_run(r->fn, n, &c->scratch, r->zf_clear);
	*probed = (now_ns() - t0) / n;
	err = read_counts(c, &b);

stop:
	if (rb) {
		atomic_store(&c->stop, 1);
		pthread_join(c->thr, NULL);
		drain(c);
	}
detach:
	bpf_link__destroy(links[1]);
	bpf_link__destroy(links[0]);
	if (err)
		return err;

	check(c, b.entry - a.entry == n, r, "uprobe hits == calls", b.entry - a.entry, n);
	if (r->mode == PC_COUNT_RET)
		check(c, b.ret - a.ret == n, r, "uretprobe hits == calls", b.ret - a.ret, n);
	if (rb) {
		check(c, (b.events - a.events) + (b.drops - a.drops) == n, r,
		      "records + drops == calls", (b.events - a.events) + (b.drops - a.drops), n);
		check(c, c->consumed == b.events - a.events, r, "consumed == submitted",
		      c->consumed, b.events - a.events);
		check(c, c->bad_size == 0, r, "records of the wrong size", c->bad_size, 0);
		res->drops += b.drops - a.drops;
	}
	check(c, c->scratch - s0 == (lock ? n : 0), r, "lock xadd adds with probe",
	      c->scratch - s0, lock ? n : 0);
	bytes_ok(c, r, "bytes after detach");
	return 0;
}

/* One short probed run per row: picks its call count and warms every path. */
static int calibrate(struct pc_ctx *c)
{
	double base, probed;
	unsigned int i;
	int err;

	for (i = 0; i < NR_ROWS; i++) {
		struct pc_result *res = &c->res[i];

		if (!res->selected)
			continue;
		err = measure(c, &rows[i], res, PC_CALIB_CALLS, &base, &probed);
		if (err && res->attach_err) {
			/* a finding, not a failure: the row is printed as refused */
			pr_warn("probe_cost: the kernel refuses a uprobe on %s (%s): %s\n",
				rows[i].sym, rows[i].insn, errname(err));
			continue;
		}
		if (err)
			return err;
		res->calls = probed > PC_SLOW_NS ? c->opts.slow_calls : c->opts.fast_calls;
		res->drops = 0;
		pr_info("calibrate %-22s %-40s %8.0f ns/hit -> %llu calls\n", rows[i].sym,
			mode_names[rows[i].mode], probed, (unsigned long long)res->calls);
	}
	return 0;
}

static int run_reps(struct pc_ctx *c)
{
	unsigned int rep, k;
	int err;

	for (rep = 0; rep < c->opts.reps; rep++) {
		for (k = 0; k < NR_ROWS; k++) {
			/* reversed on odd repetitions, so drift hits both ends alike */
			unsigned int i = rep % 2 ? NR_ROWS - 1 - k : k;
			struct pc_result *res = &c->res[i];

			if (!res->selected || res->attach_err)
				continue;
			err = measure(c, &rows[i], res, res->calls, &res->base[res->nr],
				      &res->probed[res->nr]);
			if (err)
				return err;
			res->nr++;
		}
		pr_warn("probe_cost: repetition %u/%u done\n", rep + 1, c->opts.reps);
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v. */
static double median_inplace(double *v, unsigned int n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median of one row's repetitions, n <= PC_MAX_REPS. */
static double median(const double *v, unsigned int n)
{
	double tmp[PC_MAX_REPS];

	if (n > PC_MAX_REPS)
		return NAN;
	memcpy(tmp, v, n * sizeof(*v));
	return median_inplace(tmp, n);
}

static double minmax(const double *v, unsigned int n, bool want_max)
{
	double m = v[0];
	unsigned int i;

	for (i = 1; i < n; i++)
		if (want_max ? v[i] > m : v[i] < m)
			m = v[i];
	return m;
}

/* Median over repetitions of (probed - no probe), each pair measured back to back. */
static double added(const struct pc_result *res)
{
	double d[PC_MAX_REPS];
	unsigned int i;

	for (i = 0; i < res->nr; i++)
		d[i] = res->probed[i] - res->base[i];
	return median(d, res->nr);
}

static int find_row(const struct pc_ctx *c, void (*fn)(void), enum pc_mode mode)
{
	unsigned int i;

	for (i = 0; i < NR_ROWS; i++)
		if (rows[i].fn == fn && rows[i].mode == mode && c->res[i].selected && c->res[i].nr)
			return i;
	return -1;
}

static void fmt_bytes(char *buf, size_t sz, const struct pc_row *r)
{
	unsigned int i;
	size_t off = 0;

	buf[0] = 0;
	for (i = 0; i < r->len && off + 4 < sz; i++)
		off += snprintf(buf + off, sz - off, "%s%02x", i ? " " : "", (__u8)r->bytes[i]);
}

static void fmt_ratio(char *buf, size_t sz, double num, int ref, const struct pc_ctx *c)
{
	if (ref < 0)
		snprintf(buf, sz, "-");
	else
		snprintf(buf, sz, "%.2f", num / added(&c->res[ref]));
}

/*
 * Single-step against the rest is decided by the numbers: they are an order
 * of magnitude apart.  Optimised against emulated is only ~25% apart, within
 * what a busy 2-vCPU VM can swing one row, so there the kernel's own
 * evidence decides: an optimised site reads as a call (e8) into the
 * [uprobes-trampoline] while attached, every other probed site as int3 (cc).
 * print_tables() warns when the two kinds of evidence disagree.
 */
static const char *classify(const struct pc_ctx *c, int i, int push)
{
	const struct pc_result *res = &c->res[i];

	if (push < 0)
		return "?";
	if (added(res) / added(&c->res[push]) > PC_SSTEP_X)
		return "single-step";
	if (res->live == 0xe8 && (__u8)rows[i].bytes[0] != 0xe8)
		return "optimized";
	return "emulated";
}

static const char *refused(const struct pc_result *res)
{
	return res->attach_err == -524 ? "REFUSED 524" : "REFUSED";
}

static void fmt_minmax(char *buf, size_t sz, const struct pc_result *res)
{
	snprintf(buf, sz, "%.0f-%.0f", minmax(res->probed, res->nr, false),
		 minmax(res->probed, res->nr, true));
}

static void print_insn_table(FILE *f, const struct pc_ctx *c, int nop5, int push)
{
	char bytes[64], rn[16], rp[16], mm[32];
	unsigned int i;

	fprintf(f, "\n### uprobe cost by the first instruction (per-CPU count program)\n\n");
	fprintf(f, "| %-31s | %-32s | %6s | %9s | %-11s | %8s | %5s | %5s | %4s | %-11s |\n",
		"instruction", "bytes", "calls", "ns/call", "min-max", "added", "xnop5",
		"xpush", "live", "class");
	fprintf(f, "|---------------------------------|----------------------------------"
		"|-------:|----------:|-------------|---------:|------:|------:|------|-------------|\n");
	for (i = 0; i < NR_ROWS; i++) {
		const struct pc_result *res = &c->res[i];
		const char *cls;

		if (rows[i].mode != PC_COUNT || !res->selected)
			continue;
		fmt_bytes(bytes, sizeof(bytes), &rows[i]);
		if (res->attach_err) {
			fprintf(f, "| %-31s | %-32s | %6s | %9s | %-11s | %8s | %5s | %5s | %-4s | %-11s |\n",
				rows[i].insn, bytes, "-", "-", "-", "-", "-", "-", "-", refused(res));
			continue;
		}
		if (!res->nr)
			continue;
		cls = classify(c, i, push);
		fmt_ratio(rn, sizeof(rn), added(res), nop5, c);
		fmt_ratio(rp, sizeof(rp), added(res), push, c);
		fmt_minmax(mm, sizeof(mm), res);
		fprintf(f, "| %-31s | %-32s | %6llu | %9.1f | %-11s | %8.1f | %5s | %5s | %02x   | %-11s |\n",
			rows[i].insn, bytes, (unsigned long long)res->calls,
			median(res->probed, res->nr), mm, added(res), rn, rp, res->live, cls);
	}
}

/* Median added cost of each class, and how far apart the classes are. */
static void print_class_summary(FILE *f, const struct pc_ctx *c, int push)
{
	static const char *const classes[] = { "optimized", "emulated", "single-step" };
	double v[NR_ROWS], med[3];
	unsigned int i, k, n;

	if (push < 0)
		return;
	fprintf(f, "\nby class (median of the rows' added ns):");
	for (k = 0; k < 3; k++) {
		for (i = n = 0; i < NR_ROWS; i++)
			if (rows[i].mode == PC_COUNT && c->res[i].selected && c->res[i].nr &&
			    !strcmp(classify(c, i, push), classes[k]))
				v[n++] = added(&c->res[i]);
		med[k] = median_inplace(v, n);
		fprintf(f, "%s %s %.0f (%u rows)", k ? "," : "", classes[k], med[k], n);
	}
	fprintf(f, "\nemulated / optimized = %.2f, single-step / emulated = %.1f, "
		"single-step / optimized = %.1f\n", med[1] / med[0], med[2] / med[1], med[2] / med[0]);

	/* the live byte and the numbers should tell the same story */
	for (i = 0; i < NR_ROWS; i++) {
		const char *cls;

		if (rows[i].mode != PC_COUNT || !c->res[i].selected || !c->res[i].nr)
			continue;
		cls = classify(c, i, push);
		if ((!strcmp(cls, "optimized") && added(&c->res[i]) >= med[1]) ||
		    (!strcmp(cls, "emulated") && added(&c->res[i]) <= med[0]))
			pr_warn("probe_cost: note: %s is %s by its live byte (%02x), but costs "
				"%.0f ns against medians of %.0f optimized, %.0f emulated\n",
				rows[i].sym, cls, c->res[i].live, added(&c->res[i]), med[0], med[1]);
	}
}

static void print_extra_table(FILE *f, const struct pc_ctx *c, int nop5, int push)
{
	char rn[16], rp[16], mm[32], over[16];
	unsigned int i;

	fprintf(f, "\n### return probe and ring buffer\n\n");
	fprintf(f, "| %-5s | %-38s | %6s | %9s | %-11s | %8s | %11s | %5s | %5s | %5s |\n",
		"entry", "mode", "calls", "ns/call", "min-max", "added", "over uprobe", "xnop5",
		"xpush", "drops");
	fprintf(f, "|-------|----------------------------------------|-------:|----------:"
		"|-------------|---------:|------------:|------:|------:|------:|\n");
	for (i = 0; i < NR_ROWS; i++) {
		const struct pc_result *res = &c->res[i];
		const char *entry = rows[i].fn == pc_fn_nop5 ? "nop5" : "push";
		int same = find_row(c, rows[i].fn, PC_COUNT);

		if (rows[i].mode == PC_COUNT || !res->selected)
			continue;
		if (res->attach_err) {
			fprintf(f, "| %-5s | %-38s | %6s | %9s | %-11s | %8s | %11s | %5s | %5s | %5s |\n",
				entry, mode_names[rows[i].mode], "-", "-", "-", "-", refused(res),
				"-", "-", "-");
			continue;
		}
		if (!res->nr)
			continue;
		fmt_ratio(rn, sizeof(rn), added(res), nop5, c);
		fmt_ratio(rp, sizeof(rp), added(res), push, c);
		fmt_minmax(mm, sizeof(mm), res);
		if (same >= 0)
			snprintf(over, sizeof(over), "%+.1f", added(res) - added(&c->res[same]));
		else
			snprintf(over, sizeof(over), "-");
		fprintf(f, "| %-5s | %-38s | %6llu | %9.1f | %-11s | %8.1f | %11s | %5s | %5s | %5llu |\n",
			entry, mode_names[rows[i].mode], (unsigned long long)res->calls,
			median(res->probed, res->nr), mm, added(res), over, rn, rp,
			(unsigned long long)res->drops);
	}
}

static void print_tables(FILE *f, const struct pc_ctx *c)
{
	int nop5 = find_row(c, pc_fn_nop5, PC_COUNT);
	int push = find_row(c, pc_fn_push_rbx, PC_COUNT);
	double b[NR_ROWS * PC_MAX_REPS];
	unsigned int i, k, n = 0;

	print_insn_table(f, c, nop5, push);
	for (i = 0; i < NR_ROWS; i++)
		for (k = 0; k < c->res[i].nr; k++)
			b[n++] = c->res[i].base[k];
	fprintf(f, "\nno probe: %.2f ns/call (median over all rows and repetitions)\n",
		median_inplace(b, n));
	print_class_summary(f, c, push);
	print_extra_table(f, c, nop5, push);
	fprintf(f, "\nns/call = median over repetitions with the probe attached; min-max over them;\n"
		"added = median over repetitions of (probed - no probe), the pair measured back\n"
		"to back; xnop5 / xpush = added / added of the nop5 / push %%rbx count rows;\n"
		"over uprobe = added - added of the same function with the count uprobe only;\n"
		"live = first byte at the probe address while attached (e8: rewritten to a call\n"
		"into the [uprobes-trampoline], cc: int3);\n"
		"class: single-step if xpush > %.0f, else optimized if live is e8, else emulated;\n"
		"REFUSED 524: attaching fails with the kernel's ENOTSUPP, the instruction cannot\n"
		"be probed at all.\n", PC_SSTEP_X);
}

static int setup(struct pc_ctx *c)
{
	unsigned int i;
	ssize_t len;
	int err, nonline;

	c->pid = getpid();
	len = readlink("/proc/self/exe", c->exe, sizeof(c->exe) - 1);
	if (len < 0) {
		err = -errno;
		pr_warn("probe_cost: cannot read /proc/self/exe: %s\n", strerror(-err));
		return err;
	}
	c->exe[len] = 0;

	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0) {
		pr_warn("probe_cost: cannot count possible CPUs: %s\n", strerror(-c->ncpus));
		return c->ncpus ? c->ncpus : -EINVAL;
	}
	c->vals = calloc(c->ncpus, sizeof(*c->vals));
	if (!c->vals)
		return -ENOMEM;

	nonline = sysconf(_SC_NPROCESSORS_ONLN);
	c->bench_cpu = c->opts.cpu >= 0 ? c->opts.cpu : (nonline > 1 ? nonline - 1 : 0);
	c->consumer_cpu = c->bench_cpu == 0 && nonline > 1 ? 1 : 0;
	err = pin_self(c->bench_cpu);
	if (err) {
		pr_warn("probe_cost: cannot pin to CPU %d\n", c->bench_cpu);
		return err;
	}

	for (i = 0; i < NR_ROWS; i++)
		c->res[i].selected = !c->opts.filter || strstr(rows[i].sym, c->opts.filter);
	return 0;
}

static int load(struct pc_ctx *c)
{
	int err;

	c->skel = probe_cost_bpf__open_and_load();
	if (!c->skel) {
		err = -errno;
		pr_warn("probe_cost: cannot open and load BPF object: %s\n", strerror(-err));
		return err;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event, c, NULL);
	if (!c->rb) {
		err = -errno;
		pr_warn("probe_cost: cannot create ring buffer: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct pc_ctx ctx;
	struct pc_ctx *c = &ctx;
	struct utsname u;
	double t0;
	int err;

	err = parse_args(argc, argv, &c->opts);
	if (err)
		return 2;
	libbpf_set_print(libbpf_print);

	err = setup(c);
	if (err)
		goto cleanup;
	err = load(c);
	if (err)
		goto cleanup;

	uname(&u);
	printf("## probe_cost: %s %s, %ld CPUs online, bench on CPU %d, consumer on CPU %d\n",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), c->bench_cpu,
	       c->consumer_cpu);
	printf("calls per measurement: %llu (rows over %.0f ns/hit: %llu), %u repetitions\n",
	       (unsigned long long)c->opts.fast_calls, PC_SLOW_NS,
	       (unsigned long long)c->opts.slow_calls, c->opts.reps);
	fflush(stdout);

	t0 = now_ns();
	err = calibrate(c);
	if (err)
		goto cleanup;
	err = run_reps(c);
	if (err)
		goto cleanup;

	print_tables(stdout, c);
	printf("\nCHECK %u of %u checks passed (hits == calls, bytes, ringbuf counts): %s\n",
	       c->checks - c->failures, c->checks, c->failures ? "FAILED" : "EXACT");
	printf("wall time %.1f s\n", (now_ns() - t0) / 1e9);
	if (c->failures)
		err = -EPROTO;

cleanup:
	ring_buffer__free(c->rb);
	probe_cost_bpf__destroy(c->skel);
	free(c->vals);
	return err ? 1 : 0;
}
