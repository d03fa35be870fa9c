// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope inspect -p PID | PATH: what asyncscope would attach to, and
 * at what cost, without attaching anything.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "hooks.h"
#include "json_writer.h"
#include "log.h"
#include "rt_sites.h"
#include "target.h"
#include "tokio_bin.h"

static const char usage[] =
	"usage: asyncscope inspect (-p PID | PATH) [--json] [-v]\n"
	"\n"
	"Show what asyncscope finds in a tokio binary without attaching: tokio version,\n"
	"hooks and their probe sites with the cost class of each, task vtables and\n"
	"future type names, and what is missing and why; then the I/O probes record\n"
	"adds by default (--no-io leaves them out).\n";

/* The kernel's side of I/O tracing: tracepoints, no uprobe trap. */
static const char io_tracepoints[] =
	"sock:sock_send_length, sock:sock_recv_length (tp_btf), "
	"syscalls: connect, accept, accept4 (exit), close (entry), "
	"epoll_wait, epoll_pwait, epoll_pwait2 (exit)";

static void print_json(const struct tokio_bin *tb, const struct rt_site *rt, size_t nr_rt,
		       int rt_err)
{
	struct json_writer *w = json_writer__new(stdout, JSON_WRITER_PRETTY);

	if (!w)
		return;
	json_writer__begin_object(w);
	tokio_bin__json_fields(tb, w);
	json_writer__key(w, "hooks_by_default");
	json_writer__begin_object(w);
	for (int k = 0; k < HOOK__MAX; k++) {
		bool on;
		const char *why = hooks__default_reason(tb, k, &on);

		json_writer__key(w, hook_kind_name(k));
		json_writer__begin_object(w);
		json_writer__key(w, "on");
		json_writer__bool(w, on);
		json_writer__kv_str(w, "why", why);
		json_writer__end_object(w);
	}
	json_writer__end_object(w);
	json_writer__key(w, "io_sites");
	if (rt_err)
		json_writer__null(w);
	else
		rt_sites__json(rt, nr_rt, w);
	json_writer__kv_str(w, "io_tracepoints", io_tracepoints);
	json_writer__end_object(w);
	if (json_writer__close(w))
		pr_warn("inspect: cannot write the JSON report\n");
}

static void print_io(const struct rt_site *rt, size_t nr_rt, int rt_err)
{
	printf("\nI/O probes (record's default; --no-io leaves them out):\n");
	if (rt_err)
		printf("  driver functions not readable: %s\n", strerror(-rt_err));
	else if (!nr_rt)
		printf("  no tokio driver functions (process_at_time, io::Driver::turn): wakes are classified without phase markers\n");
	else
		rt_sites__print(rt, nr_rt, stdout);
	printf("  tracepoints: %s\n", io_tracepoints);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct target *tgt = NULL;
	struct tokio_bin *tb = NULL;
	const struct tokio_bin *shown;
	struct rt_site *rt = NULL;
	size_t nr_rt = 0;
	int rt_err;
	uint32_t pid = 0;
	int json = 0, c, rc;
	char err[512] = "";

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli__pid(optarg, "a process id", &pid))
				return EXIT_USAGE;
			break;
		case 'j':
			json = 1;
			break;
		default:
			if (cli__common_opt(c, usage))
				return EXIT_USAGE;
		}
	}
	if ((pid != 0) == (optind < argc) || argc - optind > 1) {
		pr_warn("inspect takes a process or a file: asyncscope inspect -p PID | PATH\n");
		return EXIT_USAGE;
	}
	if (pid) {
		rc = target__open_pid(pid, &tgt);
		if (rc)
			return target_exit_code(-rc);
		shown = tgt->bin;
	} else {
		tb = tokio_bin__open(argv[optind], err, sizeof(err));
		if (!tb) {
			rc = errno;
			pr_warn("%s: %s\n", argv[optind], err[0] ? err : strerror(rc));
			return rc == ENOENT || rc == EACCES ? EXIT_IO : EXIT_TARGET;
		}
		shown = tb;
	}
	rt_err = rt_sites__find(shown->path, &rt, &nr_rt);
	if (json) {
		print_json(shown, rt, nr_rt, rt_err);
	} else {
		if (tgt)
			printf("process: pid %u (%s), %s, load bias 0x%llx\n", tgt->pid, tgt->comm,
			       tgt->exe_path_resolved, (unsigned long long)tgt->bias);
		tokio_bin__print(shown, stdout);
		hooks__print(shown, NULL, stdout);
		print_io(rt, nr_rt, rt_err);
	}
	rt_sites__free(rt, nr_rt);
	target__free(tgt);
	tokio_bin__free(tb);
	return EXIT_OK;
}
