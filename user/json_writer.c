// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "json_writer.h"

struct json_level {
	bool is_object;
	bool after_key;		/* objects: a key was written, its value is next */
	size_t count;		/* members or elements written */
};

struct json_writer {
	FILE *out;
	unsigned int flags;
	int err;
	int depth;
	bool done;		/* the top-level value is complete */
	struct json_level lv[JSON_WRITER_MAX_DEPTH];
};

struct json_writer *json_writer__new(FILE *out, unsigned int flags)
{
	struct json_writer *w;

	if (!out) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->out = out;
	w->flags = flags;
	return w;
}

void json_writer__free(struct json_writer *w)
{
	free(w);
}

static void newline_indent(struct json_writer *w, int depth)
{
	int i;

	if (!(w->flags & JSON_WRITER_PRETTY))
		return;
	fputc('\n', w->out);
	for (i = 0; i < depth; i++)
		fputs("  ", w->out);
}

static int fail(struct json_writer *w, int err)
{
	w->err = err;
	return err;
}

/* Separator and checks before any value; 0 if the value may be written. */
static int before_value(struct json_writer *w)
{
	struct json_level *l;

	if (w->err)
		return w->err;
	if (!w->depth) {
		if (w->done)
			return fail(w, -EINVAL);
		return 0;
	}
	l = &w->lv[w->depth - 1];
	if (l->is_object) {
		if (!l->after_key)
			return fail(w, -EINVAL);
		l->after_key = false;
		return 0;
	}
	if (l->count)
		fputc(',', w->out);
	newline_indent(w, w->depth);
	l->count++;
	return 0;
}

/* After a complete value at the top level, the document is done. */
static void after_value(struct json_writer *w)
{
	if (!w->depth)
		w->done = true;
}

static int begin(struct json_writer *w, bool is_object)
{
	int err = before_value(w);

	if (err)
		return err;
	if (w->depth >= JSON_WRITER_MAX_DEPTH)
		return fail(w, -E2BIG);
	w->lv[w->depth].is_object = is_object;
	w->lv[w->depth].after_key = false;
	w->lv[w->depth].count = 0;
	w->depth++;
	fputc(is_object ? '{' : '[', w->out);
	return 0;
}

static int end(struct json_writer *w, bool is_object)
{
	struct json_level *l;

	if (w->err)
		return w->err;
	if (!w->depth)
		return fail(w, -EINVAL);
	l = &w->lv[w->depth - 1];
	if (l->is_object != is_object || l->after_key)
		return fail(w, -EINVAL);
	w->depth--;
	if (l->count)
		newline_indent(w, w->depth);
	fputc(is_object ? '}' : ']', w->out);
	after_value(w);
	return 0;
}

int json_writer__begin_object(struct json_writer *w)
{
	return begin(w, true);
}

int json_writer__end_object(struct json_writer *w)
{
	return end(w, true);
}

int json_writer__begin_array(struct json_writer *w)
{
	return begin(w, false);
}

int json_writer__end_array(struct json_writer *w)
{
	return end(w, false);
}

/*
 * Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid; *bad is
 * then the length of its longest valid prefix (at least 1), which is
 * replaced by one U+FFFD, as Unicode recommends.
 */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* beyond U+10FFFF */
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

void json_write_string(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, bad;

	fputc('"', out);
	while (i < len) {
		unsigned char c = s[i];

		switch (c) {
		case '"':	fputs("\\\"", out); i++; continue;
		case '\\':	fputs("\\\\", out); i++; continue;
		case '\b':	fputs("\\b", out); i++; continue;
		case '\f':	fputs("\\f", out); i++; continue;
		case '\n':	fputs("\\n", out); i++; continue;
		case '\r':	fputs("\\r", out); i++; continue;
		case '\t':	fputs("\\t", out); i++; continue;
		default:	break;
		}
		/* DEL is legal JSON but invisible and terminal-hostile: escape it too. */
		if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i, &bad);
		if (!n) {
			fputs("\\ufffd", out);
			i += bad;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
	fputc('"', out);
}

int json_writer__key(struct json_writer *w, const char *key)
{
	struct json_level *l;

	if (w->err)
		return w->err;
	if (!key || !w->depth)
		return fail(w, -EINVAL);
	l = &w->lv[w->depth - 1];
	if (!l->is_object || l->after_key)
		return fail(w, -EINVAL);
	if (l->count)
		fputc(',', w->out);
	newline_indent(w, w->depth);
	json_write_string(w->out, key, strlen(key));
	fputs(w->flags & JSON_WRITER_PRETTY ? ": " : ":", w->out);
	l->after_key = true;
	l->count++;
	return 0;
}

int json_writer__string_len(struct json_writer *w, const char *s, size_t len)
{
	int err;

	if (!s)
		return json_writer__null(w);
	err = before_value(w);
	if (err)
		return err;
	json_write_string(w->out, s, len);
	after_value(w);
	return 0;
}

int json_writer__string(struct json_writer *w, const char *s)
{
	return json_writer__string_len(w, s, s ? strlen(s) : 0);
}

/* Writes a bare token (number, true, false, null). */
static int token(struct json_writer *w, const char *tok)
{
	int err = before_value(w);

	if (err)
		return err;
	fputs(tok, w->out);
	after_value(w);
	return 0;
}

int json_writer__u64(struct json_writer *w, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return token(w, buf);
}

int json_writer__i64(struct json_writer *w, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return token(w, buf);
}

int json_writer__double(struct json_writer *w, double v)
{
	char buf[32];
	int prec;

	if (!isfinite(v))
		return token(w, "null");
	/* The shortest text that reads back as the same double. */
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.17g", v);
	return token(w, buf);
}

int json_writer__bool(struct json_writer *w, bool v)
{
	return token(w, v ? "true" : "false");
}

int json_writer__null(struct json_writer *w)
{
	return token(w, "null");
}

int json_writer__kv_u64(struct json_writer *w, const char *key, uint64_t v)
{
	return json_writer__key(w, key) ?: json_writer__u64(w, v);
}

int json_writer__kv_str(struct json_writer *w, const char *key, const char *s)
{
	return json_writer__key(w, key) ?: json_writer__string(w, s);
}

int json_writer__kv_u64_opt(struct json_writer *w, const char *key, uint64_t v, bool present)
{
	return json_writer__key(w, key) ?: present ? json_writer__u64(w, v) : json_writer__null(w);
}

int json_writer__finish(struct json_writer *w)
{
	if (w->err)
		return w->err;
	if (w->depth || !w->done)
		return -EINVAL;
	if (fflush(w->out) || ferror(w->out))
		return -EIO;
	return 0;
}

int json_writer__close(struct json_writer *w)
{
	int err;

	if (!w)
		return -EINVAL;
	err = json_writer__finish(w);
	if (!err && (fputc('\n', w->out) == EOF || fflush(w->out)))
		err = -EIO;
	json_writer__free(w);
	return err;
}
