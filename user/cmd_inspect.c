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
#include "log.h"
#include "target.h"
#include "tokio_bin.h"

static const char usage[] =
	"usage: asyncscope inspect (-p PID | PATH) [--json] [-v]\n"
	"\n"
	"Show what asyncscope finds in a tokio binary without attaching: tokio version,\n"
	"hooks and their probe sites with the cost class of each, task vtables and\n"
	"future type names, and what is missing and why.\n";

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
	uint64_t pid = 0;
	int json = 0, c, rc;
	char err[512] = "";

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, 1, 0x7fffffff, &pid)) {
				pr_warn("invalid PID '%s': expected a process id\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'v':
			log_verbosity++;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if ((pid != 0) == (optind < argc) || argc - optind > 1) {
		pr_warn("inspect takes a process or a file: asyncscope inspect -p PID | PATH\n");
		return EXIT_USAGE;
	}
	if (pid) {
		rc = target__open_pid((uint32_t)pid, &tgt);
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
	if (json) {
		tokio_bin__print_json(shown, stdout);
	} else {
		if (tgt)
			printf("process: pid %u (%s), %s, load bias 0x%llx\n", tgt->pid, tgt->comm,
			       tgt->exe_path_resolved, (unsigned long long)tgt->bias);
		tokio_bin__print(shown, stdout);
		hooks__print(shown, NULL, stdout);
	}
	target__free(tgt);
	tokio_bin__free(tb);
	return EXIT_OK;
}
