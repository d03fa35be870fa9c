// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope dump [-p RECORDER_PID]: ask running flight recorders to write
 * their window of recent events to a new file now, and print the paths.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "control.h"
#include "log.h"

static const char usage[] =
	"usage: asyncscope dump [-p RECORDER_PID] [-v]\n"
	"\n"
	"Ask every running flight recorder ('asyncscope record -p PID --flight-recorder\n"
	"60s,256MiB') to write its window of recent events to a new file, without\n"
	"stopping it, and print the path of each file written, one per line.\n"
	"Sending SIGUSR1 to a recorder does the same.\n"
	"\n"
	"  -p, --pid PID          only the recorder whose process id is PID (the\n"
	"                         'asyncscope record' process, not the one it traces)\n"
	"  -v, --verbose          more messages on stderr\n";

static const char none_running[] =
	"no flight recorder is running: start one with 'asyncscope record -p PID --flight-recorder 60s,256MiB'";

static int parse_args(int argc, char **argv, pid_t *only)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint32_t pid;
	int c;

	*only = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli__pid(optarg, "the process id of an 'asyncscope record'", &pid))
				return -EINVAL;
			*only = (pid_t)pid;
			break;
		default:
			if (cli__common_opt(c, usage))
				return -EINVAL;
		}
	}
	return cli__operands(argc, argv, "dump", NULL, NULL);
}

int cmd_dump(int argc, char **argv)
{
	char sock[PATH_MAX], path[PATH_MAX], msg[512];
	size_t n = 0, written = 0;
	pid_t only, *pids = NULL;
	int rc = EXIT_OK, err;
	const char *dir;

	if (parse_args(argc, argv, &only))
		return EXIT_USAGE;
	if (geteuid() != 0) {
		pr_warn("permission denied: the flight recorders' control sockets are root's; run it with sudo\n");
		return EXIT_PRIVILEGE;
	}
	dir = control__run_dir();
	err = control__find(dir, &pids, &n);
	if (err) {
		pr_warn("cannot list the recorders in '%s': %s\n", dir, strerror(-err));
		return err == -EACCES || err == -EPERM ? EXIT_PRIVILEGE : EXIT_IO;
	}
	for (size_t i = 0; i < n; i++) {
		if (only && pids[i] != only)
			continue;
		err = control__socket_path(dir, pids[i], sock, sizeof(sock));
		if (!err)
			err = control__request_dump(sock, path, sizeof(path), msg, sizeof(msg));
		if (!err) {
			printf("%s\n", path);
			fflush(stdout);
			pr_info("recorder %d: dump written to '%s'\n", (int)pids[i], path);
			written++;
			continue;
		}
		/* exited since the listing, or a reused pid: nobody to ask */
		if (err == -ECONNREFUSED || err == -ENOENT) {
			pr_info("recorder %d: %s\n", (int)pids[i], msg);
			continue;
		}
		pr_warn("recorder %d: %s\n", (int)pids[i], msg);
		if (rc == EXIT_OK)
			rc = err == -EACCES || err == -EPERM ? EXIT_PRIVILEGE : EXIT_IO;
	}
	if (!written && rc == EXIT_OK) {
		if (only)
			pr_warn("no flight recorder with pid %d is running ('asyncscope dump' without -p asks them all)\n",
				(int)only);
		else
			pr_warn("%s\n", none_running);
		rc = EXIT_TARGET;
	}
	if (fflush(stdout) || ferror(stdout)) {
		pr_warn("cannot write to stdout: %s\n", strerror(errno));
		rc = EXIT_IO;
	}
	free(pids);
	return rc;
}
