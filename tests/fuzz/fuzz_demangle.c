// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbol names, untrusted (they come from the binary's string tables):
 * demangled, then cut into a path and generic arguments the way the tokio
 * resolver does, and the same string operations on the raw input.
 */
#include <string.h>

#include "demangle.h"
#include "fuzz.h"

#define MAX_ARGS 4

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* The path and every generic argument list of s. */
static void cut(const char *s)
{
	char *path = demangle__path(s), *args[MAX_ARGS];
	size_t len = strlen(s);

	if (path) {
		FUZZ_CHECK(strlen(path) <= len);
		free(path);
	}
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		int n = demangle__generic_args(p, args, MAX_ARGS);

		for (int i = 0; i < n && i < MAX_ARGS; i++) {
			FUZZ_CHECK(strlen(args[i]) < len);
			free(args[i]);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *d;

	FUZZ_CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	d = demangle__rust(s);
	if (d) {
		cut(d);
		free(d);
	}
	cut(s);
	free(s);
	return 0;
}
