// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncscope convert FILE -o OUT: a recording as a Perfetto trace (open it
 * in ui.perfetto.dev) or as Chrome trace-event JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "correlator.h"
#include "log.h"
#include "out_chrome.h"
#include "out_perfetto.h"
#include "io_stats.h"
#include "replay.h"
#include "timeline.h"

enum convert_format { FMT_AUTO = 0, FMT_PERFETTO, FMT_CHROME_JSON };

struct convert_opts {
	const char *path;
	const char *output;
	enum convert_format fmt;
	int force;
};

static const char usage[] =
	"usage: asyncscope convert FILE -o OUT [--to perfetto|chrome-json] [--force] [-v]\n"
	"\n"
	"Convert a recording (asyncscope record -o FILE) into a trace viewers open:\n"
	"Perfetto's protobuf trace (ui.perfetto.dev), or Chrome's trace-event JSON\n"
	"(chrome://tracing, speedscope, ...).  Without --to, an OUT ending in .json\n"
	"gets Chrome JSON and anything else Perfetto.  A damaged recording is\n"
	"converted up to the damage, which is named on stderr (exit code 6).\n"
	"\n"
	"  -o, --output OUT       the trace to write (never follows a symlink)\n"
	"      --to FORMAT        perfetto | chrome-json\n"
	"      --force            overwrite OUT if it exists\n"
	"  -v, --verbose          more messages on stderr\n";

static int parse_args(int argc, char **argv, struct convert_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "to", required_argument, NULL, 't' },
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
		case 'o':
			o->output = optarg;
			break;
		case 't':
			if (!strcmp(optarg, "perfetto")) {
				o->fmt = FMT_PERFETTO;
			} else if (!strcmp(optarg, "chrome-json") || !strcmp(optarg, "json")) {
				o->fmt = FMT_CHROME_JSON;
			} else {
				pr_warn("unknown format '%s': expected perfetto or chrome-json\n", optarg);
				return -EINVAL;
			}
			break;
		case 'f':
			o->force = 1;
			break;
		default:
			if (cli__common_opt(c, usage))
				return -EINVAL;
		}
	}
	if (cli__operands(argc, argv, "convert",
			  "convert needs a recording: asyncscope convert FILE -o OUT", &o->path))
		return -EINVAL;
	if (!o->output) {
		pr_warn("convert needs an output: asyncscope convert FILE -o OUT.pftrace (or OUT.json)\n");
		return -EINVAL;
	}
	if (o->fmt == FMT_AUTO) {
		size_t n = strlen(o->output);

		o->fmt = n >= 5 && !strcmp(o->output + n - 5, ".json") ? FMT_CHROME_JSON : FMT_PERFETTO;
	}
	return 0;
}

/* Every item of the recording into the timeline, beside the replay's correlator. */
static int on_item(void *ctx, const struct rec_item *it)
{
	int err = replay__timeline_item(ctx, it);

	/* a record the timeline refuses is counted there; running out of room is not */
	if (err == -E2BIG)
		pr_warn("the recording is too large to convert: more polls, wakes or threads than a timeline holds\n");
	return err == -ENOMEM || err == -E2BIG ? err : 0;
}

static int write_trace(const struct convert_opts *o, const struct timeline *tl)
{
	FILE *out = open_output(o->output, o->force);
	int err;

	if (!out)
		return EXIT_IO;
	err = o->fmt == FMT_CHROME_JSON ? out_chrome__write(out, tl) : out_perfetto__write(out, tl);
	if (!err && (fflush(out) || ferror(out)))
		err = -errno;
	if (fclose(out) && !err)
		err = -errno;
	if (err) {
		pr_warn("cannot write '%s': %s\n", o->output, strerror(-err));
		unlink(o->output);
		return EXIT_IO;
	}
	return EXIT_OK;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_opts o;
	struct replay_opts ropts = { .sz = sizeof(ropts), .on_item = on_item };
	struct replay *r = NULL;
	struct io_stats *io = NULL;
	struct timeline *tl;
	char err[320];
	int rc, ret, ret2;

	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	tl = timeline__new();
	if (!tl)
		return EXIT_FAILURE_;
	/* wake sources and the sockets of socket operations, for the trace */
	io = io_stats__new(NULL);
	if (!io) {
		rc = EXIT_FAILURE_;
		goto cleanup;
	}
	timeline__set_io(tl, io);
	ropts.ctx = tl;
	ret = replay__file(o.path, &ropts, &r, err, sizeof(err));
	if (!r) {
		pr_warn("%s\n", err);
		rc = replay_exit_code(ret);
		goto cleanup;
	}
	ret2 = timeline__finish(tl, r->meta.end_ns ? r->meta.end_ns : correlator__max_ts(r->corr));
	if (ret2) {
		pr_warn("cannot build the timeline: %s\n", strerror(-ret2));
		rc = EXIT_FAILURE_;
		goto cleanup;
	}
	rc = write_trace(&o, tl);
	if (rc == EXIT_OK) {
		const struct timeline_stats *st = timeline__stats(tl);

		fprintf(stderr, "asyncscope: wrote %s (%s): %zu tasks, %zu polls, %zu wakes, %zu threads\n",
			o.output, o.fmt == FMT_CHROME_JSON ? "chrome-json" : "perfetto",
			timeline__nr_tasks(tl), timeline__nr_polls(tl), timeline__nr_wakes(tl),
			timeline__nr_threads(tl));
		if (st->malformed)
			fprintf(stderr, "asyncscope: %llu records were malformed and left out\n",
				(unsigned long long)st->malformed);
	}
	replay__print_notes(r, stderr);
	if (rc == EXIT_OK && ret)
		rc = replay_exit_code(ret);
cleanup:
	replay__free(r);
	timeline__free(tl);
	io_stats__free(io);
	return rc;
}
