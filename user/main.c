// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* asyncscope: trace the tasks of running tokio programs with eBPF. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "log.h"


struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("asyncscope %s\n", ASYNCSCOPE_VERSION);
	return EXIT_OK;
}

static const struct cmd cmds[] = {
	{ "record", cmd_record, "attach to a running tokio process and report its tasks" },
	{ "dump", cmd_dump, "write a running flight recorder's window to a file now" },
	{ "report", cmd_report, "print the tasks of a recording, offline, without root" },
	{ "convert", cmd_convert, "turn a recording into a Perfetto or Chrome JSON trace" },
	{ "inspect", cmd_inspect, "show what a process or binary offers, without attaching" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this text" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: asyncscope COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-8s %s\n", cmds[i].name, cmds[i].help);
	printf("\n'asyncscope COMMAND --help' shows a command's options.\n");
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cmd *found = NULL;
	size_t len;

	if (argc < 2) {
		cmd_help(0, NULL);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(0, NULL);
	/* a unique prefix selects a command, as bpftool does */
	len = strlen(argv[1]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[1], len))
			continue;
		if (found) {
			pr_warn("ambiguous command '%s'; see 'asyncscope help'\n", argv[1]);
			return EXIT_USAGE;
		}
		found = &cmds[i];
	}
	if (!found || !len) {
		pr_warn("unknown command '%s'; see 'asyncscope help'\n", argv[1]);
		return EXIT_USAGE;
	}
	return found->fn(argc - 1, argv + 1);
}
