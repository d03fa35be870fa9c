// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope report FILE: the task table (or JSON) of a recording, offline,
 * without root — the same output the live `record` printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "log.h"
#include "out_json.h"
#include "out_table.h"
#include "replay.h"

static const char usage[] =
	"usage: asyncscope report FILE [--json] [-o OUT] [--force] [-v]\n"
	"\n"
	"Print the tasks of a recording (asyncscope record -o FILE) as the live\n"
	"record printed them.  A damaged or truncated recording is reported up to\n"
	"the damage, which is named on stderr (exit code 6).\n"
	"\n"
	"      --json             one JSON document instead of the table\n"
	"  -o, --output OUT       write the report to OUT (never follows a symlink)\n"
	"      --force            overwrite OUT if it exists\n"
	"  -v, --verbose          more messages on stderr\n";

struct report_opts {
	const char *path;
	const char *output;
	int json;
	int force;
};

static int parse_args(int argc, char **argv, struct report_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'f':
			o->force = 1;
			break;
		default:
			if (cli__common_opt(c, usage))
				return -EINVAL;
		}
	}
	return cli__operands(argc, argv, "report",
			     "report needs a recording: asyncscope report FILE", &o->path);
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o;
	struct replay *r = NULL;
	FILE *out = stdout;
	char err[320];
	int rc, ret;

	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	ret = replay__file(o.path, NULL, &r, err, sizeof(err));
	if (!r) {
		pr_warn("%s\n", err);
		return replay_exit_code(ret);
	}
	if (o.output) {
		out = open_output(o.output, o.force);
		if (!out) {
			rc = EXIT_IO;
			goto cleanup;
		}
	}
	if (o.json)
		out_json__print(out, r->corr, &r->meta);
	else
		out_table__print(out, r->corr, &r->meta);
	rc = EXIT_OK;
	if (fflush(out) || ferror(out)) {
		pr_warn("cannot write the report: %s\n", strerror(errno));
		rc = EXIT_IO;
	}
	if (out != stdout && fclose(out) && rc == EXIT_OK) {
		pr_warn("cannot write the report to '%s': %s\n", o.output, strerror(errno));
		rc = EXIT_IO;
	}
	replay__print_notes(r, stderr);
	if (rc == EXIT_OK && ret)
		rc = replay_exit_code(ret);
cleanup:
	replay__free(r);
	return rc;
}
