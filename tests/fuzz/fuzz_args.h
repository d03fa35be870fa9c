/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Between fuzz_args.c and the subcommand shims (cmd_shim.c). */
#ifndef ASYNCSCOPE_FUZZ_ARGS_H
#define ASYNCSCOPE_FUZZ_ARGS_H

#include "fuzz.h"

/* exit() of a subcommand: back to the fuzzer (longjmp), never returns. */
__attribute__((noreturn)) void fuzz_args_exit(int code);

/* Each subcommand's parser: 0 or -EINVAL (inspect: its exit code). */
int fuzz_parse_record(int argc, char **argv);
int fuzz_parse_report(int argc, char **argv);
int fuzz_parse_convert(int argc, char **argv);
int fuzz_parse_dump(int argc, char **argv);
int fuzz_parse_inspect(int argc, char **argv);

#endif
