// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The subcommands' argument parsers are static; this file includes one
 * subcommand's source (SHIM_CMD picks it, fuzz.mk builds one object per
 * command) and exposes its parser to fuzz_args.c, so the code fuzzed is the
 * code shipped.  The library objects the fuzzers link leave user/cmd_*.c
 * out: the commands' entry points come from here.
 *
 * --help prints the usage and calls cli__exit(), which fuzz_args.c
 * replaces to jump back into the fuzzer.  `inspect` has no
 * separate parser: it runs whole, with the two calls that would open a
 * process or a file replaced by stubs that fail, so it has no effect
 * beyond its messages.
 */
#include <stdlib.h>
#include "fuzz_args.h"

#if defined(SHIM_RECORD)
#include "cmd_record.c"

int fuzz_parse_record(int argc, char **argv)
{
	struct record_opts o;

	return parse_args(argc, argv, &o);
}

#elif defined(SHIM_REPORT)
#include "cmd_report.c"

int fuzz_parse_report(int argc, char **argv)
{
	struct report_opts o;

	return parse_args(argc, argv, &o);
}

#elif defined(SHIM_CONVERT)
#include "cmd_convert.c"

int fuzz_parse_convert(int argc, char **argv)
{
	struct convert_opts o;
	int err = parse_args(argc, argv, &o);

	if (!err)
		FUZZ_CHECK(o.path && o.output && o.fmt != FMT_AUTO);
	return err;
}

#elif defined(SHIM_DUMP)
#include "cmd_dump.c"

int fuzz_parse_dump(int argc, char **argv)
{
	pid_t only;

	return parse_args(argc, argv, &only);
}

#elif defined(SHIM_INSPECT)
#define target__open_pid fuzz_target__open_pid
#define tokio_bin__open fuzz_tokio_bin__open
#include "cmd_inspect.c"

int fuzz_target__open_pid(uint32_t pid, struct target **out)
{
	(void)pid;
	*out = NULL;
	return -ESRCH;
}

struct tokio_bin *fuzz_tokio_bin__open(const char *path, char *err, size_t errlen)
{
	FUZZ_CHECK(path);
	if (errlen)
		err[0] = '\0';
	errno = ENOENT;
	return NULL;
}

int fuzz_parse_inspect(int argc, char **argv)
{
	return cmd_inspect(argc, argv);
}

#else
#error "SHIM_RECORD, SHIM_REPORT, SHIM_CONVERT, SHIM_DUMP or SHIM_INSPECT"
#endif
