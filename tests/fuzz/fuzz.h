/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: silence the product's messages (a
 * fuzzer calls it millions of times), a sink for everything it prints, and
 * a way to fail loudly when an invariant breaks.
 *
 * The product prints through the stdio stream stderr; the sanitizers and
 * libFuzzer write to file descriptor 2 (libFuzzer keeps the stream it had at
 * start-up), so pointing the stream at /dev/null hides only the product's
 * chatter.  FUZZ_VERBOSE=1 keeps it, to see what an input does.
 */
#ifndef ASYNCSCOPE_FUZZ_H
#define ASYNCSCOPE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where output goes: /dev/null, opened once. */
static FILE *fuzz_null __attribute__((unused));

static inline void fuzz_quiet(void)
{
	const char *v = getenv("FUZZ_VERBOSE");

	fuzz_null = fopen("/dev/null", "w");
	if (!fuzz_null)
		abort();
	if (v && *v && *v != '0') {
		log_verbosity = LOG_DEBUG;
		return;
	}
	log_verbosity = -1;
	stderr = fuzz_null;
}

/* An invariant of the code under test failed: a finding, with a reason. */
#define FUZZ_CHECK(cond)								\
	do {										\
		if (!(cond)) {								\
			fprintf(fuzz_stderr(), "fuzz: check failed at %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);				\
			abort();							\
		}									\
	} while (0)

/* The real standard error, for the harness's own failure messages. */
static inline FILE *fuzz_stderr(void)
{
	static FILE *err;

	/* unbuffered: abort() follows at once and flushes nothing */
	if (!err && (err = fdopen(2, "w")))
		setvbuf(err, NULL, _IONBF, 0);
	return err ? err : fuzz_null;
}

/* Little-endian loads of the input, without alignment assumptions. */
static inline uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fuzz_le64(const uint8_t *p)
{
	return (uint64_t)fuzz_le32(p) | (uint64_t)fuzz_le32(p + 4) << 32;
}

#endif
