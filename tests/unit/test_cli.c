// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line's value parsers: numbers, durations, sizes.  What they
 * accept, and what they refuse: a sign, a blank or an unknown unit
 * anywhere ("-p ' -1'" was 2^64 - 1 once: tests/fuzz/regress/args).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli.h"

static void test_u64(void **state)
{
	static const char *const bad[] = {
		"", "-1", " -1", "\t-1", "\r2", " 5", "+5", "5 ", "5x", "x", "08", "0x",
		"18446744073709551616",
	};
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64("4242", 1, 0x7fffffff, &v), 0);
	assert_int_equal(v, 4242);
	assert_int_equal(parse_u64("0x10", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(parse_u64("11", 1, 10, &v), -ERANGE);
	assert_int_equal(parse_u64(NULL, 0, 10, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		assert_int_not_equal(parse_u64(bad[i], 0, UINT64_MAX, &v), 0);
		assert_int_equal(v, 7);
	}
}

static void test_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "10", 10000000000ull }, { "1.5s", 1500000000ull }, { "500ms", 500000000ull },
		{ "100us", 100000ull }, { "7ns", 7 }, { "2m", 120000000000ull },
		{ "1h", 3600000000000ull }, { ".5s", 500000000ull }, { "0", 0 },
	};
	static const char *const bad[] = {
		"", "-1s", " 1s", "+1s", "1 s", "1sec", "s", "inf", "nan", "1e300", "20000000000",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse_duration_ns(good[i].s, &v), 0);
		assert_true(v == good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_duration_ns(bad[i], &v), 0);
}

static void test_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("16M", &v), 0);
	assert_true(v == 16ull << 20);
	assert_int_equal(parse_size("1GiB", &v), 0);
	assert_true(v == 1ull << 30);
	assert_int_equal(parse_size("64K", &v), 0);
	assert_true(v == 65536);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_not_equal(parse_size(" 16M", &v), 0);
	assert_int_not_equal(parse_size("-16M", &v), 0);
	assert_int_not_equal(parse_size("16MB", &v), 0);
	assert_int_not_equal(parse_size("16m", &v), 0);
	assert_int_not_equal(parse_size("99999999999G", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
