// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The streaming JSON writer: exact output, escaping, misuse. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "json_writer.h"

struct buf {
	FILE *f;
	char *data;
	size_t len;
	struct json_writer *w;
};

static void buf_open(struct buf *b, unsigned int flags)
{
	b->data = NULL;
	b->len = 0;
	b->f = open_memstream(&b->data, &b->len);
	assert_non_null(b->f);
	b->w = json_writer__new(b->f, flags);
	assert_non_null(b->w);
}

/* Closes the stream; b->data then holds everything written. */
static void buf_close(struct buf *b)
{
	json_writer__free(b->w);
	b->w = NULL;
	assert_int_equal(fclose(b->f), 0);
	b->f = NULL;
}

static void buf_free(struct buf *b)
{
	free(b->data);
}

static void test_compact(void **state)
{
	struct buf b;

	(void)state;
	buf_open(&b, 0);
	assert_int_equal(json_writer__begin_object(b.w), 0);
	json_writer__key(b.w, "a");
	json_writer__u64(b.w, 1);
	json_writer__key(b.w, "max");
	json_writer__u64(b.w, UINT64_MAX);
	json_writer__key(b.w, "min");
	json_writer__i64(b.w, INT64_MIN);
	json_writer__key(b.w, "c");
	json_writer__double(b.w, 1.5);
	json_writer__key(b.w, "d");
	json_writer__bool(b.w, true);
	json_writer__key(b.w, "e");
	json_writer__bool(b.w, false);
	json_writer__key(b.w, "f");
	json_writer__null(b.w);
	json_writer__key(b.w, "g");
	json_writer__string(b.w, "x");
	json_writer__key(b.w, "n");
	json_writer__string(b.w, NULL);
	json_writer__key(b.w, "h");
	json_writer__begin_array(b.w);
	json_writer__end_array(b.w);
	json_writer__key(b.w, "i");
	json_writer__begin_object(b.w);
	json_writer__end_object(b.w);
	json_writer__key(b.w, "j");
	json_writer__begin_array(b.w);
	json_writer__u64(b.w, 1);
	json_writer__begin_array(b.w);
	json_writer__i64(b.w, -2);
	json_writer__end_array(b.w);
	json_writer__begin_object(b.w);
	json_writer__key(b.w, "k");
	json_writer__null(b.w);
	json_writer__end_object(b.w);
	json_writer__end_array(b.w);
	assert_int_equal(json_writer__end_object(b.w), 0);
	assert_int_equal(json_writer__finish(b.w), 0);
	buf_close(&b);
	assert_string_equal(b.data,
		"{\"a\":1,\"max\":18446744073709551615,\"min\":-9223372036854775808,"
		"\"c\":1.5,\"d\":true,\"e\":false,\"f\":null,\"g\":\"x\",\"n\":null,"
		"\"h\":[],\"i\":{},\"j\":[1,[-2],{\"k\":null}]}");
	buf_free(&b);
}

/* Key and value in one call; an optional number is null when absent. */
static void test_key_values(void **state)
{
	struct buf b;

	(void)state;
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	assert_int_equal(json_writer__kv_u64(b.w, "a", 7), 0);
	assert_int_equal(json_writer__kv_str(b.w, "s", "x\"y"), 0);
	assert_int_equal(json_writer__kv_str(b.w, "n", NULL), 0);
	assert_int_equal(json_writer__kv_u64_opt(b.w, "o", 0, true), 0);
	assert_int_equal(json_writer__kv_u64_opt(b.w, "p", 5, false), 0);
	json_writer__end_object(b.w);
	/* a key outside an object is refused, as json_writer__key's */
	assert_int_not_equal(json_writer__kv_u64(b.w, "late", 1), 0);
	buf_close(&b);
	assert_string_equal(b.data, "{\"a\":7,\"s\":\"x\\\"y\",\"n\":null,\"o\":0,\"p\":null}");
	buf_free(&b);
}

/* close: a finished document gets its newline; an unfinished one gets nothing and an error. */
static void test_close(void **state)
{
	struct buf b;

	(void)state;
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	json_writer__kv_u64(b.w, "a", 1);
	json_writer__end_object(b.w);
	assert_int_equal(json_writer__close(b.w), 0);
	b.w = NULL;
	buf_close(&b);
	assert_string_equal(b.data, "{\"a\":1}\n");
	buf_free(&b);

	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	assert_int_equal(json_writer__close(b.w), -EINVAL);
	b.w = NULL;
	buf_close(&b);
	assert_string_equal(b.data, "{");
	buf_free(&b);
}

static void test_pretty(void **state)
{
	struct buf b;

	(void)state;
	buf_open(&b, JSON_WRITER_PRETTY);
	json_writer__begin_object(b.w);
	json_writer__key(b.w, "a");
	json_writer__begin_array(b.w);
	json_writer__u64(b.w, 1);
	json_writer__u64(b.w, 2);
	json_writer__end_array(b.w);
	json_writer__key(b.w, "e");
	json_writer__begin_array(b.w);
	json_writer__end_array(b.w);
	json_writer__key(b.w, "o");
	json_writer__begin_object(b.w);
	json_writer__key(b.w, "k");
	json_writer__string(b.w, "v");
	json_writer__end_object(b.w);
	json_writer__end_object(b.w);
	assert_int_equal(json_writer__finish(b.w), 0);
	buf_close(&b);
	assert_string_equal(b.data,
		"{\n"
		"  \"a\": [\n"
		"    1,\n"
		"    2\n"
		"  ],\n"
		"  \"e\": [],\n"
		"  \"o\": {\n"
		"    \"k\": \"v\"\n"
		"  }\n"
		"}");
	buf_free(&b);
}

/* s written as one top-level string. */
static char *string_doc(const char *s, size_t len)
{
	struct buf b;

	buf_open(&b, 0);
	assert_int_equal(json_writer__string_len(b.w, s, len), 0);
	assert_int_equal(json_writer__finish(b.w), 0);
	buf_close(&b);
	return b.data;
}

static void check_string(const char *s, size_t len, const char *want)
{
	char *got = string_doc(s, len);

	assert_string_equal(got, want);
	free(got);
}

#define EXPECT_STRING(lit, want) check_string(lit, sizeof(lit) - 1, want)

static void test_escapes(void **state)
{
	(void)state;
	EXPECT_STRING("", "\"\"");
	EXPECT_STRING("\"\\/", "\"\\\"\\\\/\"");
	EXPECT_STRING("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	EXPECT_STRING("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	EXPECT_STRING("a\0b", "\"a\\u0000b\"");
	/* valid UTF-8 passes through: é, €, U+1F600, U+10FFFF */
	EXPECT_STRING("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
		      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
	/* invalid: one U+FFFD per maximal invalid subpart */
	EXPECT_STRING("\xff", "\"\\ufffd\"");
	EXPECT_STRING("a\xc3", "\"a\\ufffd\"");
	EXPECT_STRING("\xe2\x82" "A", "\"\\ufffdA\"");
	EXPECT_STRING("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	EXPECT_STRING("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STRING("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STRING("\xf0\x9f\x98", "\"\\ufffd\"");
	EXPECT_STRING("\x80\xbf", "\"\\ufffd\\ufffd\"");
}

static void test_double(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0.1, "0.1" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 1e300, "1e+300" },
		{ -2.5, "-2.5" },
		{ 0.0, "0" },
		{ 1.0 / 0.0, "null" },
		{ -1.0 / 0.0, "null" },
	};
	size_t i;
	struct buf b;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_open(&b, 0);
		assert_int_equal(json_writer__double(b.w, cases[i].v), 0);
		buf_close(&b);
		assert_string_equal(b.data, cases[i].want);
		buf_free(&b);
	}
	buf_open(&b, 0);
	json_writer__double(b.w, __builtin_nan(""));
	buf_close(&b);
	assert_string_equal(b.data, "null");
	buf_free(&b);
}

static void test_misuse(void **state)
{
	struct buf b;
	int i;

	(void)state;
	/* a value in an object without its key; the error sticks */
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	assert_int_equal(json_writer__u64(b.w, 1), -EINVAL);
	assert_int_equal(json_writer__key(b.w, "a"), -EINVAL);
	assert_int_equal(json_writer__end_object(b.w), -EINVAL);
	assert_int_equal(json_writer__finish(b.w), -EINVAL);
	buf_close(&b);
	assert_string_equal(b.data, "{");
	buf_free(&b);

	/* a key in an array */
	buf_open(&b, 0);
	json_writer__begin_array(b.w);
	assert_int_equal(json_writer__key(b.w, "a"), -EINVAL);
	buf_close(&b);
	buf_free(&b);

	/* two keys in a row, a NULL key */
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	json_writer__key(b.w, "a");
	assert_int_equal(json_writer__key(b.w, "b"), -EINVAL);
	buf_close(&b);
	buf_free(&b);
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	assert_int_equal(json_writer__key(b.w, NULL), -EINVAL);
	buf_close(&b);
	buf_free(&b);

	/* the wrong end, an end at the top, an object closed after a key */
	buf_open(&b, 0);
	json_writer__begin_array(b.w);
	assert_int_equal(json_writer__end_object(b.w), -EINVAL);
	buf_close(&b);
	buf_free(&b);
	buf_open(&b, 0);
	assert_int_equal(json_writer__end_array(b.w), -EINVAL);
	buf_close(&b);
	buf_free(&b);
	buf_open(&b, 0);
	json_writer__begin_object(b.w);
	json_writer__key(b.w, "a");
	assert_int_equal(json_writer__end_object(b.w), -EINVAL);
	buf_close(&b);
	buf_free(&b);

	/* one document only; nothing written is not a document */
	buf_open(&b, 0);
	assert_int_equal(json_writer__finish(b.w), -EINVAL);
	assert_int_equal(json_writer__u64(b.w, 1), 0);
	assert_int_equal(json_writer__u64(b.w, 2), -EINVAL);
	buf_close(&b);
	assert_string_equal(b.data, "1");
	buf_free(&b);

	/* unfinished */
	buf_open(&b, 0);
	json_writer__begin_array(b.w);
	assert_int_equal(json_writer__finish(b.w), -EINVAL);
	buf_close(&b);
	buf_free(&b);

	/* too deep */
	buf_open(&b, 0);
	for (i = 0; i < JSON_WRITER_MAX_DEPTH; i++)
		assert_int_equal(json_writer__begin_array(b.w), 0);
	assert_int_equal(json_writer__begin_array(b.w), -E2BIG);
	assert_int_equal(json_writer__end_array(b.w), -E2BIG);
	buf_close(&b);
	assert_int_equal(b.len, JSON_WRITER_MAX_DEPTH);
	buf_free(&b);

	assert_null(json_writer__new(NULL, 0));
	assert_int_equal(errno, EINVAL);
	json_writer__free(NULL);
}

/* Python's decoder is the reference for "valid JSON" and for U+FFFD placement. */
static void test_python_roundtrip(void **state)
{
	static const char *const samples[] = {
		"plain", "\"q\" \\ /", "\x01\x02\x1f\x7f", "caf\xc3\xa9", "\xff\xfe",
		"\xe2\x82", "\xed\xa0\x80x", "\xf0\x9f\x98\x80", "\xf8\x88\x80\x80\x80",
		"\xc2", "a\xe0\x80\xafz", "\xf4\x90\x80\x80",
	};
	static const char script[] =
		"import json,sys\n"
		"doc=json.load(sys.stdin)\n"
		"want=[bytes.fromhex(h).decode(\"utf-8\",\"replace\") for h in sys.argv[1:]]\n"
		"sys.exit(0 if doc==want else 1)\n";
	char cmd[4096], *p;
	struct json_writer *w;
	size_t i, j;
	FILE *f;

	(void)state;
	if (access("/usr/bin/python3", X_OK))
		skip();
	/* The script has no single quote, so it can be quoted for sh as is. */
	p = cmd + snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s'", script);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		p += sprintf(p, " '");
		for (j = 0; samples[i][j]; j++)
			p += sprintf(p, "%02x", (unsigned char)samples[i][j]);
		p += sprintf(p, "'");
	}
	f = popen(cmd, "w");
	assert_non_null(f);
	w = json_writer__new(f, JSON_WRITER_PRETTY);
	json_writer__begin_array(w);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		json_writer__string(w, samples[i]);
	json_writer__end_array(w);
	assert_int_equal(json_writer__finish(w), 0);
	json_writer__free(w);
	assert_int_equal(pclose(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_key_values),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_pretty),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_python_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
