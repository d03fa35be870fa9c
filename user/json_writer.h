/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tiny streaming JSON writer over a FILE *.  It places the commas, the
 * colons and (with JSON_WRITER_PRETTY) the indentation, escapes strings
 * (control characters, quotes, backslashes; invalid UTF-8 becomes U+FFFD)
 * and refuses misuse: a value in an object without its key, a key in an
 * array, unbalanced ends.  Errors are sticky: after the first one every
 * call returns it and writes nothing more.
 *
 *	w = json_writer__new(stdout, JSON_WRITER_PRETTY);
 *	json_writer__begin_object(w);
 *	json_writer__key(w, "pid");
 *	json_writer__u64(w, 42);
 *	json_writer__end_object(w);
 *	err = json_writer__finish(w);	-> {"pid": 42} over three lines
 *	json_writer__free(w);
 */
#ifndef ASYNCSCOPE_JSON_WRITER_H
#define ASYNCSCOPE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_WRITER_PRETTY	(1u << 0)	/* newlines and two-space indent */
#define JSON_WRITER_MAX_DEPTH	64

struct json_writer;

struct json_writer *json_writer__new(FILE *out, unsigned int flags);
void json_writer__free(struct json_writer *w);	/* NULL-safe */

/* Each returns 0, or -EINVAL (misuse) / -E2BIG (too deep), sticky. */
int json_writer__begin_object(struct json_writer *w);
int json_writer__end_object(struct json_writer *w);
int json_writer__begin_array(struct json_writer *w);
int json_writer__end_array(struct json_writer *w);
int json_writer__key(struct json_writer *w, const char *key);
int json_writer__string(struct json_writer *w, const char *s);	/* NULL writes null */
int json_writer__string_len(struct json_writer *w, const char *s, size_t len);
int json_writer__u64(struct json_writer *w, uint64_t v);
int json_writer__i64(struct json_writer *w, int64_t v);
int json_writer__double(struct json_writer *w, double v);	/* NaN and infinities write null */
int json_writer__bool(struct json_writer *w, bool v);
int json_writer__null(struct json_writer *w);

/* A key and its value in one call (inside an object). */
int json_writer__kv_u64(struct json_writer *w, const char *key, uint64_t v);
int json_writer__kv_str(struct json_writer *w, const char *key, const char *s);	/* NULL: null */
/* v, or null when !present (an optional number: a time not reached, no index) */
int json_writer__kv_u64_opt(struct json_writer *w, const char *key, uint64_t v, bool present);

/*
 * 0 when exactly one complete value was written without error, else the
 * sticky error, -EINVAL for an unfinished document, -EIO if the stream failed.
 */
int json_writer__finish(struct json_writer *w);
/* A whole document's end: finish, a newline after it, free w; 0 or finish's error (NULL-safe). */
int json_writer__close(struct json_writer *w);

/* Writes s (len bytes) as a quoted, escaped JSON string; for one-off use without a writer. */
void json_write_string(FILE *out, const char *s, size_t len);

#endif
