// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope record -p PID: attach to a running tokio process, correlate
 * until a duration passes, Ctrl-C, or the process exits, detach, report.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cli.h"
#include "correlator.h"
#include "hooks.h"
#include "loader.h"
#include "log.h"
#include "out_json.h"
#include "out_table.h"
#include "report.h"
#include "target.h"

#define DRAIN_INTERVAL_MS 10

struct record_opts {
	uint32_t pid;
	uint64_t duration_ns;		/* 0: until Ctrl-C or exit */
	const char *output;
	const char *hooks;
	uint64_t ringbuf_bytes;
	uint64_t max_tasks;
	int json;
	int force;
};

struct record {
	struct record_opts o;
	struct target *tgt;
	struct tracer *tracer;
	struct correlator *corr;
	bool hooks[HOOK__MAX];
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t received;
	int exited;
	int sigfd;
	FILE *out;
};

static const char usage[] =
	"usage: asyncscope record -p PID [-d DURATION] [--json] [-o FILE] [--force]\n"
	"                         [--hooks SPEC] [--ringbuf-size SIZE] [--max-tasks N] [-v]\n"
	"\n"
	"Attach to the tokio process PID, trace its tasks until DURATION passes, Ctrl-C,\n"
	"or the process exits, detach, and print the tasks as tokio-console shows them.\n"
	"\n"
	"  -p, --pid PID          process to trace\n"
	"  -d, --duration D       how long: 10 (seconds), 500ms, 2m (default: until Ctrl-C)\n"
	"      --json             print one JSON document instead of the table\n"
	"  -o, --output FILE      write the report to FILE (never follows a symlink)\n"
	"      --force            overwrite FILE if it exists\n"
	"      --hooks SPEC       default | all | none, then +NAME / -NAME, comma-separated\n"
	"                         (names and costs: asyncscope inspect -p PID)\n"
	"      --ringbuf-size S   ring buffer size, a power of two (default 16M)\n"
	"      --max-tasks N      keep at most N tasks (default: no limit)\n"
	"  -v, --verbose          more messages on stderr (repeat for more)\n";

static int parse_args(int argc, char **argv, struct record_opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "hooks", required_argument, NULL, 'H' },
		{ "ringbuf-size", required_argument, NULL, 'R' },
		{ "max-tasks", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:d:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, 1, 0x7fffffff, &v)) {
				pr_warn("invalid PID '%s': expected a process id\n", optarg);
				return -EINVAL;
			}
			o->pid = (uint32_t)v;
			break;
		case 'd':
			if (parse_duration_ns(optarg, &o->duration_ns) || !o->duration_ns) {
				pr_warn("invalid duration '%s': expected e.g. 10, 1.5s, 500ms, 2m\n", optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'H': {
			bool check[HOOK__MAX];
			char err[256];

			if (hooks__parse(optarg, NULL, check, err, sizeof(err))) {
				pr_warn("%s\n", err);
				return -EINVAL;
			}
			o->hooks = optarg;
			break;
		}
		case 'R':
			if (parse_size(optarg, &v) || v < 4096 || v > (1ull << 32) || (v & (v - 1))) {
				pr_warn("invalid --ringbuf-size '%s': expected a power of two from 4K to 4G\n",
					optarg);
				return -EINVAL;
			}
			o->ringbuf_bytes = v;
			break;
		case 'M':
			if (parse_u64(optarg, 1, UINT64_MAX, &o->max_tasks)) {
				pr_warn("invalid --max-tasks '%s': expected a positive number\n", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			log_verbosity++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(EXIT_OK);
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_warn("unexpected argument '%s'; see 'asyncscope record --help'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->pid) {
		pr_warn("record needs a process: asyncscope record -p PID\n");
		return -EINVAL;
	}
	return 0;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct record *r = ctx;

	r->received++;
	return correlator__feed(r->corr, data, size);
}

static void on_frame(void *ctx, uint32_t pid, uint32_t tid, const struct as_poll_frame *f)
{
	struct record *r = ctx;

	correlator__poll_in_progress(r->corr, pid, tid, f->task_id, f->type_idx, f->start_ns);
}

/*
 * tokio's next task id, read once the probes are live: every task from this
 * id on is spawned while traced, even where the spawn hooks are inlined.
 */
static void mark_first_id(struct record *r)
{
	uint64_t next_id;
	int err;

	if (!r->tgt->bin->next_id_vaddr)
		return;
	err = target__read_u64(r->tgt, r->tgt->bin->next_id_vaddr, &next_id);
	if (err) {
		pr_info("cannot read tokio's NEXT_ID: %s\n", strerror(-err));
		return;
	}
	pr_debug("tokio's next task id at attach: %llu\n", (unsigned long long)next_id);
	correlator__set_first_id(r->corr, r->o.pid, next_id);
}

static int setup(struct record *r)
{
	struct tracer_opts topts = { .sz = sizeof(topts), .ringbuf_bytes = r->o.ringbuf_bytes };
	struct correlator_opts copts = { .sz = sizeof(copts), .max_tasks = r->o.max_tasks };
	const struct tokio_bin *tb = r->tgt->bin;
	char err[256];
	sigset_t mask;
	int rc;

	if (r->o.hooks) {
		if (hooks__parse(r->o.hooks, tb, r->hooks, err, sizeof(err))) {
			pr_warn("%s\n", err);
			return EXIT_USAGE;
		}
	} else {
		hooks__defaults(tb, r->hooks);
	}

	r->corr = correlator__new(&copts);
	if (!r->corr)
		return EXIT_FAILURE_;
	correlator__set_process(r->corr, r->o.pid, r->tgt->comm);
	for (size_t i = 0; i < tb->nr_vtables; i++) {
		const struct task_vtable *vt = &tb->vtables[i];
		bool blocking = vt->scheduler && !strcmp(vt->scheduler, "blocking");

		correlator__set_type(r->corr, r->o.pid, i, vt->future_type,
				     blocking ? AS_TASK_BLOCKING : AS_TASK_ASYNC);
	}

	r->tracer = tracer__new(&topts, on_record, r);
	if (!r->tracer)
		return errno == EPERM ? EXIT_PRIVILEGE : EXIT_FAILURE_;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sigfd < 0)
		return EXIT_FAILURE_;

	rc = tracer__add_process(r->tracer, r->o.pid, r->tgt->exe_path, tb, r->tgt->bias, r->hooks);
	if (rc) {
		if (rc == -ESRCH || rc == -ENOENT)
			pr_warn("pid %u exited before it could be attached\n", r->o.pid);
		return rc == -EPERM ? EXIT_PRIVILEGE : EXIT_TARGET;
	}
	r->start_ns = now_ns();
	mark_first_id(r);
	return EXIT_OK;
}

static void run(struct record *r)
{
	struct pollfd pfd[2] = {
		{ .fd = r->sigfd, .events = POLLIN },
		{ .fd = r->tgt->pidfd, .events = POLLIN },
	};
	uint64_t deadline = r->o.duration_ns ? r->start_ns + r->o.duration_ns : 0;

	for (;;) {
		int n = poll(pfd, 2, DRAIN_INTERVAL_MS);

		tracer__drain(r->tracer);
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			pr_info("interrupted: detaching\n");
			break;
		}
		if (n > 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			r->exited = 1;
			fprintf(stderr, "asyncscope: pid %u exited: reporting what was traced\n", r->o.pid);
			break;
		}
		if (deadline && now_ns() >= deadline)
			break;
	}
}

static void stop(struct record *r)
{
	r->end_ns = now_ns();
	tracer__stop_process(r->tracer, r->o.pid);
	/* what was submitted before the stop is still in the ring buffer */
	tracer__drain(r->tracer);
	if (!r->exited)
		tracer__in_progress(r->tracer, r->o.pid, on_frame, r);
	correlator__finish(r->corr, r->end_ns);
}

/* The probes go after the report: the kernel removes them ~0.1 s apiece. */
static void detach(struct record *r)
{
	size_t n = tracer__nr_links(r->tracer, r->o.pid);

	if (n > 20)
		fprintf(stderr, "asyncscope: removing %zu probes from pid %u (the kernel takes ~0.1 s each)\n",
			n, r->o.pid);
	tracer__remove_process(r->tracer, r->o.pid);
	tracer__forget_threads(r->tracer, r->o.pid);
	fprintf(stderr, "asyncscope: detached from pid %u\n", r->o.pid);
}

static int report(struct record *r)
{
	uint64_t counters[AS_CNT_NR] = {};
	struct report_meta m = {
		.pid = r->o.pid,
		.exe = r->tgt->exe_path_resolved,
		.tokio_version = r->tgt->bin->tokio_version,
		.start_ns = r->start_ns,
		.end_ns = r->end_ns,
		.counters = counters,
		.received = r->received,
		.target_exited = r->exited,
	};
	FILE *out = r->out;
	int err = 0;

	if (tracer__counters(r->tracer, counters))
		m.counters = NULL;
	if (r->o.json)
		out_json__print(out, r->corr, &m);
	else
		out_table__print(out, r->corr, &m);
	if (fflush(out) || ferror(out)) {
		pr_warn("cannot write the report: %s\n", strerror(errno));
		err = EXIT_IO;
	}
	if (out != stdout) {
		r->out = NULL;
		if (fclose(out) && !err) {
			pr_warn("cannot write the report to '%s': %s\n", r->o.output, strerror(errno));
			err = EXIT_IO;
		}
	}
	if (counters[AS_CNT_DROPPED])
		pr_warn("%llu events lost: the ring buffer was full (raise --ringbuf-size); kernel totals are exact\n",
			(unsigned long long)counters[AS_CNT_DROPPED]);
	return err;
}

int cmd_record(int argc, char **argv)
{
	struct record r = { .sigfd = -1, .out = stdout };
	int rc;

	if (parse_args(argc, argv, &r.o))
		return EXIT_USAGE;
	if (check_privileges())
		return EXIT_PRIVILEGE;
	/* before attaching: a long trace must not end in "cannot write" */
	if (r.o.output) {
		r.out = open_output(r.o.output, r.o.force);
		if (!r.out)
			return EXIT_IO;
	}
	rc = target__open_pid(r.o.pid, &r.tgt);
	if (rc) {
		rc = target_exit_code(-rc);
		goto cleanup;
	}
	rc = setup(&r);
	if (rc)
		goto cleanup;
	fprintf(stderr, "asyncscope: attached to pid %u (%s): %zu probes; %s\n", r.o.pid,
		r.tgt->comm, tracer__nr_links(r.tracer, r.o.pid),
		r.o.duration_ns ? "tracing" : "tracing until Ctrl-C");
	run(&r);
	stop(&r);
	rc = report(&r);
	detach(&r);
cleanup:
	tracer__free(r.tracer);
	correlator__free(r.corr);
	target__free(r.tgt);
	if (r.sigfd >= 0)
		close(r.sigfd);
	if (r.out && r.out != stdout) {
		fclose(r.out);
		/* no report was written: leave no empty file behind */
		unlink(r.o.output);
	}
	return rc;
}
