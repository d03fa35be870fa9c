// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hash index: every key found at every moment, while its table grows. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "idx_map.h"

#define N	100000

static uint64_t keys[N];

static int match(const void *ctx, uint32_t idx, const void *key)
{
	(void)ctx;
	return keys[idx] == *(const uint64_t *)key;
}

static long find(const struct idx_map *m, uint64_t key)
{
	return idx_map__find(m, idx_map__hash_u64(key), match, NULL, &key);
}

/* Each add, every key so far: found at its index; the next ones: absent. */
static void test_grow_step_by_step(void **state)
{
	struct idx_map m;
	uint32_t i, j;

	(void)state;
	idx_map__init(&m);
	assert_int_equal(find(&m, 1), -ENOENT);
	for (i = 0; i < N; i++) {
		keys[i] = (uint64_t)i * 7919 + 13;
		assert_int_equal(find(&m, keys[i]), -ENOENT);
		assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[i]), i), 0);
		/* all of them now and then, the neighbours always */
		if ((i & (i - 1)) == 0 || i % 4099 == 0) {
			for (j = 0; j <= i; j++)
				assert_int_equal(find(&m, keys[j]), j);
		} else {
			assert_int_equal(find(&m, keys[i]), i);
			assert_int_equal(find(&m, keys[i / 2]), i / 2);
		}
		assert_true(m.len * 2 <= m.cap);
	}
	for (j = 0; j < N; j++)
		assert_int_equal(find(&m, keys[j]), j);
	assert_int_equal(find(&m, 5), -ENOENT);
	idx_map__release(&m);
	assert_int_equal(find(&m, keys[0]), -ENOENT);
}

/* Keys that all collide: probing still ends. */
static void test_same_hash(void **state)
{
	struct idx_map m;
	uint32_t i;

	(void)state;
	idx_map__init(&m);
	for (i = 0; i < 300; i++) {
		keys[i] = 1000 + i;
		assert_int_equal(idx_map__add(&m, 42, i), 0);
	}
	for (i = 0; i < 300; i++)
		assert_int_equal(idx_map__find(&m, 42, match, NULL, &keys[i]), i);
	assert_int_equal(idx_map__find(&m, 42, match, NULL, &(uint64_t){ 7 }), -ENOENT);
	assert_int_equal(idx_map__add(&m, 1, UINT32_MAX), -E2BIG);
	idx_map__release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_step_by_step),
		cmocka_unit_test(test_same_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
