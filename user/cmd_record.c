// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope record -p PID: attach to a running tokio process, correlate
 * until a duration passes, Ctrl-C, or the process exits, detach, report.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "array.h"
#include "cli.h"
#include "control.h"
#include "correlator.h"
#include "hooks.h"
#include "io_stats.h"
#include "loader.h"
#include "log.h"
#include "out_json.h"
#include "out_table.h"
#include "flight_ring.h"
#include "rec_session.h"
#include "report.h"
#include "sock_loader.h"
#include "target.h"

#define DRAIN_INTERVAL_MS 10

struct record_opts {
	uint32_t pid;
	uint64_t duration_ns;		/* 0: until Ctrl-C or exit */
	const char *output;		/* the recording */
	const char *hooks;
	const char *dump_dir;
	uint64_t window_bytes;		/* --flight-recorder */
	uint64_t window_ns;
	uint64_t ringbuf_bytes;
	uint64_t max_tasks;
	int json;
	int force;
	int no_io;			/* --no-io: no socket and wake-source records */
};

struct record {
	struct record_opts o;
	struct target *tgt;
	struct tracer *tracer;
	struct correlator *corr;	/* NULL in flight-recorder mode: nothing is correlated live */
	struct sock_tracer *sock;	/* socket and runtime-phase records; NULL if they cannot load */
	struct io_stats *io;		/* with corr: what tasks wait on */
	struct rec_session *rec;	/* NULL without -o or --flight-recorder */
	struct control *ctl;		/* flight recorder: 'asyncscope dump' asks here */
	int rec_err;			/* the recording failed (reported once) */
	bool hooks[HOOK__MAX];
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t received;
	int exited;
	int sigfd;
	/* polls running at the end or at a dump, for the recording's trailer */
	struct rec_running_poll *frames;
	size_t nr_frames;
	size_t cap_frames;
};

static const char usage[] =
	"usage: asyncscope record -p PID [-d DURATION] [--json] [-o FILE] [--force]\n"
	"                         [--flight-recorder [AGE,]SIZE] [--dump-dir DIR]\n"
	"                         [--hooks SPEC] [--ringbuf-size SIZE] [--max-tasks N] [--no-io] [-v]\n"
	"\n"
	"Attach to the tokio process PID, trace its tasks until DURATION passes, Ctrl-C,\n"
	"or the process exits, detach, and print the tasks as tokio-console shows them.\n"
	"\n"
	"  -p, --pid PID          process to trace\n"
	"  -d, --duration D       how long: 10 (seconds), 500ms, 2m (default: until Ctrl-C)\n"
	"      --json             print one JSON document instead of the table\n"
	"  -o, --output FILE      also write the recording to FILE as it goes, for 'report'\n"
	"                         and 'convert' (never follows a symlink)\n"
	"      --force            overwrite FILE if it exists\n"
	"      --flight-recorder [AGE,]SIZE\n"
	"                         keep only the recent past in memory (e.g. 60s,256MiB);\n"
	"                         'asyncscope dump' or SIGUSR1 writes it to a new file in\n"
	"                         --dump-dir (default: the current directory); with -o,\n"
	"                         the last window is written to FILE at the end\n"
	"      --hooks SPEC       default | all | none, then +NAME / -NAME, comma-separated\n"
	"                         (names and costs: asyncscope inspect -p PID)\n"
	"      --ringbuf-size S   ring buffer size, a power of two (default 16M)\n"
	"      --max-tasks N      keep at most N tasks (default: no limit)\n"
	"      --no-io            no socket operations, waits and wake sources\n"
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
		{ "flight-recorder", required_argument, NULL, 'F' },
		{ "dump-dir", required_argument, NULL, 'D' },
		{ "ringbuf-size", required_argument, NULL, 'R' },
		{ "max-tasks", required_argument, NULL, 'M' },
		{ "no-io", no_argument, NULL, 'N' },
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
			if (cli__pid(optarg, "a process id", &o->pid))
				return -EINVAL;
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
		case 'F': {
			char err[256];

			if (flight_ring__parse_spec(optarg, &o->window_ns, &o->window_bytes, err,
						    sizeof(err))) {
				pr_warn("%s\n", err);
				return -EINVAL;
			}
			break;
		}
		case 'D':
			o->dump_dir = optarg;
			break;
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
		case 'N':
			o->no_io = 1;
			break;
		default:
			if (cli__common_opt(c, usage))
				return -EINVAL;
		}
	}
	if (cli__operands(argc, argv, "record", NULL, NULL))
		return -EINVAL;
	if (!o->pid) {
		pr_warn("record needs a process: asyncscope record -p PID\n");
		return -EINVAL;
	}
	if (o->dump_dir && !o->window_bytes) {
		pr_warn("--dump-dir needs --flight-recorder: only a flight recorder dumps\n");
		return -EINVAL;
	}
	if (o->json && o->window_bytes) {
		pr_warn("--json needs a whole trace: with --flight-recorder, report a dump with 'asyncscope report FILE --json'\n");
		return -EINVAL;
	}
	return 0;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct record *r = ctx;

	r->received++;
	if (r->rec && !r->rec_err)
		r->rec_err = rec_session__add(r->rec, data, size);
	if (!r->corr)
		return 0;
	correlator__feed(r->corr, data, size);
	return r->io ? io_stats__feed(r->io, data, size) : 0;
}

static void on_frame(void *ctx, uint32_t pid, uint32_t tid, const struct as_poll_frame *f)
{
	struct record *r = ctx;

	if (r->corr)
		correlator__poll_in_progress(r->corr, pid, tid, f);
	if (array__grow((void **)&r->frames, &r->cap_frames, r->nr_frames + 1, sizeof(*r->frames)))
		return;
	r->frames[r->nr_frames].tid = tid;
	r->frames[r->nr_frames++].frame = *f;
}

/* The polls running now, for the correlator and the recording's trailer. */
static void collect_in_progress(struct record *r)
{
	r->nr_frames = 0;
	if (!r->exited)
		tracer__in_progress(r->tracer, r->o.pid, on_frame, r);
}

static void end_info(struct record *r, struct rec_session_end *end, uint64_t *counters)
{
	memset(end, 0, sizeof(*end));
	end->end_ns = r->end_ns ? r->end_ns : now_ns();
	end->counters = tracer__counters(r->tracer, counters) ? NULL : counters;
	end->received = r->received;
	end->target_exited = r->exited;
	end->in_progress = r->frames;
	end->nr_in_progress = r->nr_frames;
}

/*
 * tokio's next task id, read once the probes are live: every task from this
 * id on is spawned while traced, even where the spawn hooks are inlined.
 * 0 when unknown.
 */
static uint64_t read_first_id(struct record *r)
{
	uint64_t next_id;
	int err;

	if (!r->tgt->bin->next_id_vaddr)
		return 0;
	err = target__read_u64(r->tgt, r->tgt->bin->next_id_vaddr, &next_id);
	if (err) {
		pr_info("cannot read tokio's NEXT_ID: %s\n", strerror(-err));
		return 0;
	}
	pr_debug("tokio's next task id at attach: %llu\n", (unsigned long long)next_id);
	return next_id;
}

static int setup_correlator(struct record *r)
{
	struct correlator_opts copts = { .sz = sizeof(copts), .max_tasks = r->o.max_tasks };
	struct io_stats_opts iopts = { .sz = sizeof(iopts), .max_tasks = r->o.max_tasks };
	const struct tokio_bin *tb = r->tgt->bin;

	r->corr = correlator__new(&copts);
	if (!r->corr)
		return -errno;
	iopts.corr = r->corr;
	r->io = io_stats__new(&iopts);
	if (!r->io)
		return -errno;
	correlator__set_process(r->corr, r->o.pid, r->tgt->comm);
	for (size_t i = 0; i < tb->nr_vtables; i++) {
		const struct task_vtable *vt = &tb->vtables[i];

		correlator__set_type(r->corr, r->o.pid, i, vt->future_type,
				     report__kind_of_scheduler(vt->scheduler));
	}
	return 0;
}

/* Sockets, waits and wake sources: best effort, tasks are traced without them. */
static void setup_io(struct record *r)
{
	struct sock_tracer_opts so = {
		.sz = sizeof(so),
		.events_fd = tracer__map_fd(r->tracer, "events"),
		.counters_fd = tracer__map_fd(r->tracer, "counters"),
		.threads_fd = tracer__map_fd(r->tracer, "threads"),
	};
	int err;

	if (r->o.no_io)
		return;
	r->sock = sock_tracer__new(&so);
	if (!r->sock) {
		pr_warn("io: no socket tracing (%s): tasks are traced without it\n", strerror(errno));
		return;
	}
	err = sock_tracer__add_process(r->sock, r->o.pid, r->tgt->exe_path, r->tgt->exe_path);
	if (err) {
		pr_warn("io: no socket tracing for pid %u (%s): tasks are traced without it\n",
			r->o.pid, strerror(-err));
		sock_tracer__free(r->sock);
		r->sock = NULL;
	}
}

static int setup(struct record *r)
{
	struct tracer_opts topts = { .sz = sizeof(topts), .ringbuf_bytes = r->o.ringbuf_bytes };
	const struct tokio_bin *tb = r->tgt->bin;
	uint64_t first_id;
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
	/* a flight recorder keeps raw events only: its memory stays bounded */
	if (!r->o.window_bytes && setup_correlator(r))
		return EXIT_FAILURE_;

	r->tracer = tracer__new(&topts, on_record, r);
	if (!r->tracer)
		return errno == EPERM ? EXIT_PRIVILEGE : EXIT_FAILURE_;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (r->o.window_bytes)
		sigaddset(&mask, SIGUSR1);
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
	setup_io(r);
	r->start_ns = now_ns();
	first_id = read_first_id(r);
	if (first_id && r->corr)
		correlator__set_first_id(r->corr, r->o.pid, first_id);
	/* before the first drain: the header and process come first in the file */
	if (r->rec && rec_session__begin(r->rec, r->tgt, r->hooks, r->start_ns, first_id))
		return EXIT_IO;
	return EXIT_OK;
}

/* Flight recorder: the window to a new file now, without stopping. */
static int dump(struct record *r, char *path, size_t size)
{
	uint64_t counters[AS_CNT_NR] = {};
	struct rec_session_end end;
	int err;

	tracer__drain(r->tracer);
	collect_in_progress(r);
	end_info(r, &end, counters);
	err = rec_session__dump(r->rec, &end, path, size);
	if (err)
		pr_warn("cannot write a flight-recorder dump: %s\n", strerror(-err));
	return err;
}

static int on_control_dump(void *ctx, char *path, size_t size)
{
	return dump(ctx, path, size);
}

/* A signal arrived: 1 to stop, 0 to go on (SIGUSR1 dumped). */
static int on_signal(struct record *r)
{
	struct signalfd_siginfo si;
	char path[PATH_MAX];

	while (read(r->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGUSR1) {
			pr_info("interrupted: detaching\n");
			return 1;
		}
		if (!dump(r, path, sizeof(path))) {
			printf("%s\n", path);
			fflush(stdout);
		}
	}
	return 0;
}

static void run(struct record *r)
{
	struct pollfd pfd[3] = {
		{ .fd = r->sigfd, .events = POLLIN },
		{ .fd = r->tgt->pidfd, .events = POLLIN },
		{ .fd = r->ctl ? control__fd(r->ctl) : -1, .events = POLLIN },
	};
	uint64_t deadline = r->o.duration_ns ? r->start_ns + r->o.duration_ns : 0;
	char exe[PATH_MAX];

	for (;;) {
		int n = poll(pfd, 3, DRAIN_INTERVAL_MS);

		tracer__drain(r->tracer);
		if (r->rec && !r->rec_err)
			r->rec_err = rec_session__tick(r->rec, now_ns());
		if (n > 0 && (pfd[0].revents & POLLIN) && on_signal(r))
			break;
		if (n > 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			r->exited = 1;
			fprintf(stderr, "asyncscope: pid %u exited: reporting what was traced\n", r->o.pid);
			break;
		}
		/* an exec ends the traced program as surely as an exit; the process runs on */
		if (target__execed(r->tgt, exe, sizeof(exe))) {
			r->exited = 1;
			fprintf(stderr, "asyncscope: pid %u exec'd %s: the traced program is gone; reporting what was traced\n",
				r->o.pid, exe);
			break;
		}
		if (n > 0 && (pfd[2].revents & POLLIN))
			control__handle(r->ctl, on_control_dump, r);
		if (deadline && now_ns() >= deadline)
			break;
	}
}

static void stop(struct record *r)
{
	r->end_ns = now_ns();
	tracer__stop_process(r->tracer, r->o.pid);
	sock_tracer__stop_process(r->sock, r->o.pid);
	/* what was submitted before the stop is still in the ring buffer */
	tracer__drain(r->tracer);
	collect_in_progress(r);
	if (r->corr)
		correlator__finish(r->corr, r->end_ns);
}

/*
 * The probes go after the report: without uprobe_multi links (before
 * Linux 6.6) the kernel removes them ~0.1 s apiece.
 */
static void detach(struct record *r)
{
	size_t n = tracer__nr_links(r->tracer, r->o.pid);

	if (n > 20)
		fprintf(stderr, "asyncscope: removing %zu probes from pid %u\n", n, r->o.pid);
	tracer__remove_process(r->tracer, r->o.pid);
	sock_tracer__remove_process(r->sock, r->o.pid);
	tracer__forget_threads(r->tracer, r->o.pid);
	fprintf(stderr, "asyncscope: detached from pid %u\n", r->o.pid);
}

/* The recording's trailer (or the last window). */
static int finish_recording(struct record *r, uint64_t *counters)
{
	struct rec_session_end end;
	int err;

	if (!r->rec)
		return EXIT_OK;
	end_info(r, &end, counters);
	err = r->rec_err ? r->rec_err : rec_session__finish(r->rec, &end);
	rec_session__summary(r->rec, stderr);
	return err ? EXIT_IO : EXIT_OK;
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
		.io = r->io,
	};
	int err = finish_recording(r, counters);

	if (tracer__counters(r->tracer, counters))
		m.counters = NULL;
	if (r->corr) {
		if (r->o.json)
			out_json__print(stdout, r->corr, &m);
		else
			out_table__print(stdout, r->corr, &m);
		if (fflush(stdout) || ferror(stdout)) {
			pr_warn("cannot write the report: %s\n", strerror(errno));
			err = EXIT_IO;
		}
	}
	if (counters[AS_CNT_DROPPED])
		pr_warn("%llu events lost: the ring buffer was full (raise --ringbuf-size); kernel totals are exact\n",
			(unsigned long long)counters[AS_CNT_DROPPED]);
	return err;
}

static int open_recording(struct record *r)
{
	struct rec_session_opts ro = {
		.sz = sizeof(ro),
		.path = r->o.output,
		.force = r->o.force,
		.window_bytes = r->o.window_bytes,
		.window_ns = r->o.window_ns,
		.dump_dir = r->o.dump_dir,
	};
	if (!r->o.output && !r->o.window_bytes)
		return 0;
	r->rec = rec_session__new(&ro);
	if (!r->rec)
		return EXIT_IO;
	if (r->o.window_bytes) {
		/* control__listen says why it failed; SIGUSR1 still dumps */
		if (control__listen(&r->ctl))
			r->ctl = NULL;
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct record r = { .sigfd = -1 };
	int rc;

	if (parse_args(argc, argv, &r.o))
		return EXIT_USAGE;
	if (check_privileges())
		return EXIT_PRIVILEGE;
	/* before attaching: a long trace must not end in "cannot write" */
	rc = open_recording(&r);
	if (rc)
		goto cleanup;
	rc = target__open_pid(r.o.pid, &r.tgt);
	if (rc) {
		rc = target_exit_code(-rc);
		goto cleanup;
	}
	rc = setup(&r);
	if (rc)
		goto cleanup;
	fprintf(stderr, "asyncscope: attached to pid %u (%s): %zu probes; %s%s\n", r.o.pid,
		r.tgt->comm, tracer__nr_links(r.tracer, r.o.pid),
		r.rec && rec_session__is_window(r.rec) ? "flight recorder; " : "",
		r.o.duration_ns ? "tracing" : "tracing until Ctrl-C");
	run(&r);
	stop(&r);
	rc = report(&r);
	detach(&r);
cleanup:
	if (rc && r.rec && r.o.output && !r.start_ns)
		unlink(r.o.output);	/* never attached: leave no empty file behind */
	control__free(r.ctl);
	rec_session__free(r.rec);
	sock_tracer__free(r.sock);
	tracer__free(r.tracer);
	io_stats__free(r.io);
	correlator__free(r.corr);
	target__free(r.tgt);
	free(r.frames);
	if (r.sigfd >= 0)
		close(r.sigfd);
	return rc;
}
