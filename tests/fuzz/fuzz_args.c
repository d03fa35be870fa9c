// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Command lines, untrusted: the input split on NUL bytes is an argument
 * vector.  Every argument goes through the value parsers (numbers,
 * durations, sizes, --hooks, --flight-recorder), and the whole vector
 * through each subcommand's option parser (cmd_shim.c).  Each argument is
 * its own allocation of exactly its length, so reading past its end is
 * caught.  The parsers' contracts are checked: a value accepted is in
 * range, a refusal leaves a message and the outputs alone.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "flight_ring.h"
#include "fuzz_args.h"
#include "hooks.h"

#define MAX_ARGS	24
#define SENTINEL	0x5a5a5a5a5a5a5a5aull

static jmp_buf back;
static int exited;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

void fuzz_args_exit(int code)
{
	exited = 1;
	longjmp(back, code + 1);
}

/* the subcommands' shared -h (user/cli.c) exits through here */
void cli__exit(int code)
{
	fuzz_args_exit(code);
}

static void values(const char *s)
{
	uint64_t v = SENTINEL, age = SENTINEL, bytes = SENTINEL;
	bool hooks[HOOK__MAX];
	char err[256];

	if (!parse_u64(s, 1, 0x7fffffff, &v))
		FUZZ_CHECK(v >= 1 && v <= 0x7fffffff);
	else
		FUZZ_CHECK(v == SENTINEL);
	if (!parse_u64(s, 0, UINT64_MAX, &v))
		FUZZ_CHECK(*s >= '0' && *s <= '9');
	parse_duration_ns(s, &v);
	parse_size(s, &v);

	memset(err, 'x', sizeof(err));
	if (hooks__parse(s, NULL, hooks, err, sizeof(err)))
		FUZZ_CHECK(err[0] && memchr(err, 0, sizeof(err)));

	memset(err, 'x', sizeof(err));
	if (!flight_ring__parse_spec(s, &age, &bytes, err, sizeof(err))) {
		FUZZ_CHECK(bytes >= FLIGHT_RING_MIN_BYTES && bytes <= FLIGHT_RING_MAX_BYTES);
		FUZZ_CHECK(age != SENTINEL);
	} else {
		FUZZ_CHECK(age == SENTINEL && bytes == SENTINEL);
		FUZZ_CHECK(err[0] && memchr(err, 0, sizeof(err)));
	}
	/* no room for a message: it must not write one */
	flight_ring__parse_spec(s, &age, &bytes, NULL, 0);
}

/* glibc's getopt keeps a pointer into the last argv: forget it between runs. */
static void getopt_reset(void)
{
	static char arg0[] = "x";
	static char *argv[] = { arg0, NULL };

	optind = 0;
	getopt(1, argv, "");
}

static void command(int (*parse)(int, char **), const char *name, char **args, int n)
{
	char *argv[MAX_ARGS + 2];

	argv[0] = (char *)name;
	memcpy(argv + 1, args, n * sizeof(*args));
	argv[n + 1] = NULL;
	getopt_reset();
	log_verbosity = -1;
	exited = 0;
	if (!setjmp(back))
		parse(n + 1, argv);
	else
		FUZZ_CHECK(exited);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[MAX_ARGS];
	int n = 0;

	for (size_t i = 0; i < size && n < MAX_ARGS;) {
		const uint8_t *nul = memchr(data + i, 0, size - i);
		size_t len = nul ? (size_t)(nul - (data + i)) : size - i;

		args[n] = malloc(len + 1);
		FUZZ_CHECK(args[n]);
		memcpy(args[n], data + i, len);
		args[n][len] = '\0';
		n++;
		i += len + 1;
	}
	for (int i = 0; i < n; i++)
		values(args[i]);
	command(fuzz_parse_record, "record", args, n);
	command(fuzz_parse_report, "report", args, n);
	command(fuzz_parse_convert, "convert", args, n);
	command(fuzz_parse_dump, "dump", args, n);
	command(fuzz_parse_inspect, "inspect", args, n);
	log_verbosity = -1;
	for (int i = 0; i < n; i++)
		free(args[i]);
	return 0;
}
