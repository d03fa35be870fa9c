// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pipeline: how many records per second asyncscope's user-space path takes
 * on one core -- libbpf's ring_buffer__consume() handing each record to
 * correlator__feed(), as `asyncscope record` does -- fed by a real BPF ring
 * buffer that bpf/bench_pipe.bpf.c fills (run through BPF_PROG_TEST_RUN).
 *
 *   pipeline capacity [-n RECORDS]
 *       fill the ring with RECORDS records first, then drain and correlate
 *       them all on this core: the consumer's ceiling, nothing competing.
 *   pipeline stream -r RATE [-d SECONDS]
 *       a producer thread emits RATE records/s (0: as fast as it can) on
 *       one CPU while the consumer drains every 10 ms on the other, like
 *       asyncscope record, through a ring of asyncscope's default size;
 *       records lost to a full ring are counted.  -F PRIO runs the consumer
 *       at SCHED_FIFO, so that other load on a shared machine does not
 *       decide when it drains.
 *
 * One JSON line on stdout per run; CPU times are the consumer thread's.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench_pipe.skel.h"
#include "correlator.h"

#define pr_warn(...)	fprintf(stderr, __VA_ARGS__)

#define PIPE_PID		4242	/* bench_pipe.bpf.c's default */
#define DRAIN_INTERVAL_NS	10000000ull	/* asyncscope record's */
#define DEFAULT_RINGBUF		(16u << 20)	/* asyncscope record's */

struct pipe_opts {
	bool stream;
	uint64_t records;	/* capacity: records to pre-fill */
	double rate;		/* stream: records/s, 0 = unpaced */
	double seconds;		/* stream: duration */
	uint32_t slots;		/* live tasks */
	uint32_t polls;		/* polls per task */
	uint32_t batch;		/* records per test run */
	uint64_t ringbuf;	/* bytes, 0: default for the mode */
	int producer_cpu;
	int consumer_cpu;
	int fifo_prio;		/* consumer at SCHED_FIFO with this priority; 0: as started */
};

struct pipe {
	struct pipe_opts o;
	struct bench_pipe_bpf *skel;
	struct ring_buffer *rb;
	struct correlator *corr;
	int prog_fd;
	uint64_t consumed;
	uint64_t feed_errors;
	/* stream mode */
	uint64_t end_ns;	/* the producer stops by itself: a consume that keeps up never returns */
	uint64_t runs;
	uint64_t drains;
	uint64_t max_drain_ns;	/* the longest single drain: what a full ring waits for */
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/*
 * The consumer at SCHED_FIFO: on a shared machine, other load otherwise
 * decides when it wakes up to drain, and the drops measure the scheduler.
 * It sleeps 10 ms between drains, so it never holds the CPU for long.
 */
static int realtime(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return prio ? -pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) : 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct pipe *p = ctx;

	p->consumed++;
	if (correlator__feed(p->corr, data, size))
		p->feed_errors++;
	return 0;
}

static int run_batch(struct pipe *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	int err;

	err = bpf_prog_test_run_opts(p->prog_fd, &t);
	if (err)
		return -errno;
	p->runs++;
	return 0;
}

static int setup(struct pipe *p)
{
	struct correlator_opts co = { .sz = sizeof(co) };
	uint64_t rb = p->o.ringbuf;
	int err;

	if (!rb) {
		if (p->o.stream) {
			rb = DEFAULT_RINGBUF;
		} else {
			/* every record with its 8-byte header, spawns are 192 bytes */
			for (rb = 1u << 20; rb < p->o.records * 96; rb <<= 1)
				;
		}
	}
	p->skel = bench_pipe_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_warn("pipeline: cannot open the BPF object: %s\n", strerror(-err));
		return err;
	}
	p->skel->rodata->nr_slots = p->o.slots;
	p->skel->rodata->polls_per_task = p->o.polls;
	p->skel->rodata->batch = p->o.batch;
	err = bpf_map__set_max_entries(p->skel->maps.events, rb);
	if (!err)
		err = bench_pipe_bpf__load(p->skel);
	if (err) {
		pr_warn("pipeline: cannot load the BPF object: %s\n", strerror(-err));
		return err;
	}
	p->prog_fd = bpf_program__fd(p->skel->progs.generate);
	p->corr = correlator__new(&co);
	if (!p->corr)
		return -errno;
	/* the metadata asyncscope record gives the correlator */
	correlator__set_process(p->corr, PIPE_PID, "pipeline");
	for (uint32_t i = 0; i < 8; i++) {
		char name[64];

		snprintf(name, sizeof(name), "server::handler::{{closure}}#%u", i);
		correlator__set_type(p->corr, PIPE_PID, i, name, 1);
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_record, p, NULL);
	if (!p->rb) {
		err = -errno;
		pr_warn("pipeline: cannot set up the ring buffer: %s\n", strerror(-err));
		return err;
	}
	p->o.ringbuf = rb;
	return 0;
}

static void print_result(struct pipe *p, const char *mode, uint64_t wall_ns, uint64_t cpu_ns)
{
	const struct correlator_stats *st = correlator__stats(p->corr);

	printf("{\"mode\":\"%s\",\"target_rate\":%.0f,\"ringbuf\":%llu,\"produced\":%llu,"
	       "\"dropped\":%llu,\"consumed\":%llu,\"elapsed_ns\":%llu,\"cpu_ns\":%llu,"
	       "\"rate\":%.0f,\"tasks\":%zu,\"malformed\":%llu,\"anomalies\":%llu,"
	       "\"feed_errors\":%llu,\"drains\":%llu,\"max_drain_ns\":%llu}\n",
	       mode, p->o.rate, (unsigned long long)p->o.ringbuf,
	       (unsigned long long)p->skel->bss->produced,
	       (unsigned long long)p->skel->bss->dropped, (unsigned long long)p->consumed,
	       (unsigned long long)wall_ns, (unsigned long long)cpu_ns,
	       wall_ns ? p->consumed * 1e9 / wall_ns : 0.0, correlator__nr_tasks(p->corr),
	       (unsigned long long)st->malformed,
	       (unsigned long long)(st->duplicates + st->after_close),
	       (unsigned long long)p->feed_errors, (unsigned long long)p->drains,
	       (unsigned long long)p->max_drain_ns);
	fflush(stdout);
}

static int capacity(struct pipe *p)
{
	uint64_t t0, c0, wall, cpu;
	int err;

	err = pin(p->o.consumer_cpu);
	if (!err)
		err = realtime(p->o.fifo_prio);
	if (err)
		return err;
	while (p->skel->bss->produced + p->skel->bss->dropped < p->o.records) {
		err = run_batch(p);
		if (err)
			return err;
	}
	if (p->skel->bss->dropped) {
		pr_warn("pipeline: the ring (%llu bytes) is too small for %llu records\n",
			(unsigned long long)p->o.ringbuf, (unsigned long long)p->o.records);
		return -ENOSPC;
	}
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	err = ring_buffer__consume(p->rb);
	cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	wall = now_ns(CLOCK_MONOTONIC) - t0;
	if (err < 0)
		return err;
	print_result(p, "capacity", wall, cpu);
	return 0;
}

/* Emits o.rate records/s (in batches) until end_ns. */
static void *producer(void *arg)
{
	const struct timespec nap = { .tv_nsec = 20000 };
	struct pipe *p = arg;
	uint64_t t0, due;
	int64_t base = 0;	/* records the schedule gave up on (a negative offset) */
	struct sched_param normal = { .sched_priority = 0 };
	long err = 0;

	pin(p->o.producer_cpu);
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (uint64_t now = t0; now < p->end_ns; now = now_ns(CLOCK_MONOTONIC)) {
		if (p->o.rate > 0) {
			uint64_t done = p->runs * p->o.batch, lag_max = (uint64_t)(p->o.rate / 100);

			due = (uint64_t)((now - t0) * p->o.rate / 1e9) + base;
			if (done >= due) {
				nanosleep(&nap, NULL);
				continue;
			}
			/*
			 * Descheduled for a while: carry on at the rate rather than
			 * make up for it in one burst (at most 10 ms worth), which
			 * would measure the producer's scheduling, not the consumer.
			 */
			if (due - done > lag_max)
				base -= due - done - lag_max;
		}
		err = run_batch(p);
		if (err)
			break;
	}
	return (void *)err;
}

static int stream(struct pipe *p)
{
	uint64_t t0, c0, end;
	pthread_t thr;
	void *perr = NULL;
	int err;

	err = pin(p->o.consumer_cpu);
	if (err)
		return err;
	/* the producer thread starts from here: back to normal for it */
	err = realtime(p->o.fifo_prio);
	if (err) {
		pr_warn("pipeline: cannot run the consumer at SCHED_FIFO %d: %s\n", p->o.fifo_prio,
			strerror(-err));
		return err;
	}
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	end = t0 + (uint64_t)(p->o.seconds * 1e9);
	p->end_ns = end;
	err = -pthread_create(&thr, NULL, producer, p);
	if (err)
		return err;
	/* asyncscope record's loop: wait 10 ms, drain what is there, again */
	for (;;) {
		const struct timespec interval = { .tv_nsec = DRAIN_INTERVAL_NS };
		uint64_t d0;

		nanosleep(&interval, NULL);
		d0 = now_ns(CLOCK_MONOTONIC);
		err = ring_buffer__consume(p->rb);
		d0 = now_ns(CLOCK_MONOTONIC) - d0;
		p->drains++;
		if (d0 > p->max_drain_ns)
			p->max_drain_ns = d0;
		if (err < 0)
			break;
		err = 0;
		if (now_ns(CLOCK_MONOTONIC) >= end)
			break;
	}
	pthread_join(thr, &perr);
	if (!err)
		err = (int)(long)perr;
	/* what the producer left */
	if (!err && ring_buffer__consume(p->rb) < 0)
		err = -EIO;
	if (err)
		return err;
	print_result(p, "stream", now_ns(CLOCK_MONOTONIC) - t0,
		     now_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
	return 0;
}

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct pipe_opts *o)
{
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), c;
	double v;

	*o = (struct pipe_opts){
		.records = 2000000, .seconds = 2, .slots = 1024, .polls = 8, .batch = 1024,
		.consumer_cpu = ncpu > 1 ? 1 : 0, .producer_cpu = 0,
	};
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "stream"))
		o->stream = true;
	else if (strcmp(argv[1], "capacity"))
		goto usage;
	optind = 2;
	while ((c = getopt(argc, argv, "n:r:d:s:p:b:R:C:P:F:")) != -1) {
		if (parse_num(optarg, 0, 1e12, &v))
			goto usage;
		switch (c) {
		case 'n': o->records = (uint64_t)v; break;
		case 'r': o->rate = v; break;
		case 'd': o->seconds = v; break;
		case 's': o->slots = (uint32_t)v; break;
		case 'p': o->polls = (uint32_t)v; break;
		case 'b': o->batch = (uint32_t)v; break;
		case 'R': o->ringbuf = (uint64_t)v; break;
		case 'C': o->consumer_cpu = (int)v; break;
		case 'P': o->producer_cpu = (int)v; break;
		case 'F': o->fifo_prio = (int)v; break;
		default: goto usage;
		}
	}
	if (optind != argc || !o->slots || (o->slots & (o->slots - 1)) || o->slots > 65536 ||
	    !o->polls || !o->batch || o->batch > (1u << 20) || o->records < o->batch ||
	    o->seconds <= 0 || (o->ringbuf & (o->ringbuf - 1)) || o->fifo_prio > 99)
		goto usage;
	return 0;
usage:
	pr_warn("usage: pipeline capacity [-n RECORDS] | stream -r RATE [-d SECONDS]\n"
		"         [-s LIVE_TASKS] [-p POLLS_PER_TASK] [-b BATCH] [-R RINGBUF_BYTES]\n"
		"         [-C CONSUMER_CPU] [-P PRODUCER_CPU] [-F FIFO_PRIORITY]\n"
		"  -F: the consumer (stream) at SCHED_FIFO with this priority, the producer as started\n");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct pipe p = {};
	int err;

	if (parse_args(argc, argv, &p.o))
		return 2;
	err = setup(&p);
	if (!err)
		err = p.o.stream ? stream(&p) : capacity(&p);
	if (err)
		pr_warn("pipeline: %s\n", strerror(-err));
	ring_buffer__free(p.rb);
	correlator__free(p.corr);
	bench_pipe_bpf__destroy(p.skel);
	return err ? 1 : 0;
}
