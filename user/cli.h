/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the subcommands share: exit codes, argument helpers, privilege check. */
#ifndef ASYNCSCOPE_CLI_H
#define ASYNCSCOPE_CLI_H

#include <stdint.h>
#include <stdio.h>

#define ASYNCSCOPE_VERSION "0.1.0"

/* Exit codes, documented in README.md. */
enum exit_code {
	EXIT_OK		= 0,
	EXIT_FAILURE_	= 1,	/* anything not below (an internal error) */
	EXIT_USAGE	= 2,	/* bad command line */
	EXIT_PRIVILEGE	= 3,	/* missing root / CAP_BPF / CAP_PERFMON */
	EXIT_TARGET	= 4,	/* no such PID, not tokio, stripped, unknown layout */
	EXIT_IO		= 5,	/* cannot read or write a file */
	EXIT_DATA	= 6,	/* a recording is damaged or not a recording */
};

int cmd_record(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* strtoull with an end-pointer and a range check; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "10" (seconds), "1.5s", "500ms", "2m", "100us"; 0 or -EINVAL. */
int parse_duration_ns(const char *s, uint64_t *out);
/* "16M", "1G", "65536"; 0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);

/*
 * What every subcommand's getopt loop shares.  cli__common_opt takes any
 * option the loop's own cases did not: -v raises the verbosity (0), -h
 * prints usage on stdout and exits 0, anything else prints usage on stderr
 * (-EINVAL).  cli__pid parses -p's argument ("expected ..." completes the
 * message).  cli__operands takes what follows the options: exactly one
 * operand into *path when path is not NULL (missing: the message), else
 * none.  Each returns 0 or -EINVAL with a message printed.
 */
int cli__common_opt(int c, const char *usage);
__attribute__((noreturn)) void cli__exit(int code);	/* exit(); see cli.c */
int cli__pid(const char *arg, const char *expected, uint32_t *pid);
int cli__operands(int argc, char **argv, const char *cmd, const char *missing, const char **path);

/* 0 if we may load BPF and attach uprobes, else -EPERM with a message printed. */
int check_privileges(void);

/*
 * Open an output file: never follows a symlink, never overwrites unless
 * force.  NULL with a message printed on failure.
 */
FILE *open_output(const char *path, int force);

/* Map a tokio_bin__open/process errno to an exit code. */
int target_exit_code(int err);

/* For report and convert: the exit code of a replay__file() error. */
int replay_exit_code(int err);

uint64_t now_ns(void);	/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns */

#endif
