// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "demangle.h"

#define LEGACY_HASH_LEN 16

/* Strip a trailing ".llvm.<digits>" in place (LLVM's suffix for promoted locals). */
static void strip_llvm_suffix(char *s)
{
	char *p = strstr(s, ".llvm.");
	const char *d;

	while (p) {
		for (d = p + 6; isdigit((unsigned char)*d); d++)
			;
		if (!*d && d > p + 6) {
			*p = '\0';
			return;
		}
		p = strstr(p + 1, ".llvm.");
	}
}

/* Strip a trailing "::h<16 hex>" in place (the legacy mangling's hash). */
static void strip_legacy_hash(char *s)
{
	size_t n = strlen(s), i;
	char *h;

	if (n < LEGACY_HASH_LEN + 3)
		return;
	h = s + n - LEGACY_HASH_LEN - 3;
	if (strncmp(h, "::h", 3))
		return;
	for (i = 3; i < LEGACY_HASH_LEN + 3; i++) {
		if (!isxdigit((unsigned char)h[i]))
			return;
	}
	*h = '\0';
}

char *demangle__rust(const char *mangled)
{
	char *copy, *out;

	if (!mangled || (strncmp(mangled, "_ZN", 3) && strncmp(mangled, "_R", 2))) {
		errno = EINVAL;
		return NULL;
	}
	copy = strdup(mangled);
	if (!copy)
		return NULL;
	strip_llvm_suffix(copy);
	/*
	 * DMGL_RUST alone: libiberty then prints v0 generic arguments in full,
	 * omits v0 crate disambiguators and the legacy hash (DMGL_VERBOSE would
	 * add both), and returns NULL for C++ names instead of guessing.
	 */
	out = cplus_demangle(copy, DMGL_RUST);
	free(copy);
	if (!out) {
		errno = EINVAL;
		return NULL;
	}
	strip_legacy_hash(out);
	return out;
}

/* '>' that closes a bracket, not the arrow of a fn type ("fn() -> T"). */
static int is_close(const char *s, size_t i)
{
	return s[i] == '>' && !(i > 0 && s[i - 1] == '-');
}

/* Index of the '>' matching the '<' at s[i], or -1. */
static long match_angle(const char *s, size_t i)
{
	long depth = 0;

	for (; s[i]; i++) {
		if (s[i] == '<')
			depth++;
		else if (is_close(s, i) && --depth == 0)
			return (long)i;
	}
	return -1;
}

/* Does s[from, to) contain " as " outside nested brackets? */
static int has_toplevel_as(const char *s, size_t from, size_t to)
{
	long depth = 0;
	size_t i;

	for (i = from; i < to; i++) {
		if (s[i] == '<')
			depth++;
		else if (is_close(s, i))
			depth--;
		else if (!depth && !strncmp(s + i, " as ", 4) && i + 4 <= to)
			return 1;
	}
	return 0;
}

static int path_into(const char *s, size_t len, char *out, size_t *o)
{
	size_t i = 0;
	long j;

	if (len && s[0] == '<') {
		j = match_angle(s, 0);
		if (j < 0 || (size_t)j >= len)
			return -EINVAL;
		if (has_toplevel_as(s, 1, j)) {
			memcpy(out + *o, s, j + 1);
			*o += j + 1;
		} else if (path_into(s + 1, j - 1, out, o)) {
			return -EINVAL;
		}
		i = j + 1;
	}
	while (i < len) {
		if (s[i] == '<') {
			j = match_angle(s, i);
			if (j < 0 || (size_t)j >= len)
				return -EINVAL;
			/* a turbofish "f::<T>" leaves "f", not "f::" */
			if (*o >= 2 && out[*o - 1] == ':' && out[*o - 2] == ':')
				*o -= 2;
			i = j + 1;
			continue;
		}
		out[(*o)++] = s[i++];
	}
	return 0;
}

char *demangle__path(const char *name)
{
	size_t o = 0, len = strlen(name);
	char *out;

	out = malloc(len + 1);
	if (!out)
		return NULL;
	if (path_into(name, len, out, &o)) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	out[o] = '\0';
	return out;
}

static char *dup_trimmed(const char *s, size_t len)
{
	char *r;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	r = malloc(len + 1);
	if (!r)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

int demangle__generic_args(const char *open, char **args, size_t max)
{
	size_t i, start = 1, n = 0, k;
	int err = -EINVAL;
	long depth = 0;

	if (!open || open[0] != '<')
		return -EINVAL;
	for (i = 0; open[i]; i++) {
		int close = is_close(open, i), last;

		if (open[i] == '<') {
			depth++;
			continue;
		}
		last = close && depth == 1;
		if (close && !last) {
			depth--;
			continue;
		}
		if (!last && !(open[i] == ',' && depth == 1))
			continue;
		if (n < max) {
			args[n] = dup_trimmed(open + start, i - start);
			if (!args[n]) {
				err = -ENOMEM;
				goto cleanup;
			}
		}
		n++;
		start = i + 1;
		if (last)
			return (int)n;
	}

cleanup:
	for (k = 0; k < n && k < max; k++) {
		free(args[k]);
		args[k] = NULL;
	}
	return err;
}
