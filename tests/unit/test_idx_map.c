// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The hash index: every key found at every moment while its table grows,
 * through both steps of a growth (the next table faulted in, then the old
 * one copied into it), with millions of keys.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "idx_map.h"

/* past 2^21 keys: the growth to a table of 2^23 slots runs to its end */
#define N	3000000u

static uint64_t *keys;

static int match(const void *ctx, uint32_t idx, const void *key)
{
	(void)ctx;
	return keys[idx] == *(const uint64_t *)key;
}

static long find(const struct idx_map *m, uint64_t key)
{
	return idx_map__find(m, idx_map__hash_u64(key), match, NULL, &key);
}

static uint64_t key_of(uint32_t i)
{
	return (uint64_t)i * 7919 + 13;
}

static void find_all(const struct idx_map *m, uint32_t n)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		if (find(m, keys[j]) != j)
			fail_msg("key %u of %u not found (cap %zu, old %zu, moved %zu)", j, n,
				 m->cap, m->old_cap, m->moved);
}

/* Where a growth is: 0 none, 1 faulting in the next table, 2 copying the old one. */
static int growth_step(const struct idx_map *m)
{
	return m->next ? 1 : m->old ? 2 : 0;
}

/*
 * Each add: the new key and some older ones found, the next one absent,
 * the table taking the adds never past 1/2 + 2 / IDX_MAP_TOUCH, a growth
 * advanced by at most
 * IDX_MAP_TOUCH or IDX_MAP_MOVE slots.  At every change of step and
 * halfway through each copy: every key so far.
 */
static void test_grow_step_by_step(void **state)
{
	struct idx_map m;
	size_t touched = 0, moved = 0, growths = 0, copies = 0;
	int step = 0, now;
	uint32_t i;

	(void)state;
	idx_map__init(&m);
	assert_int_equal(find(&m, 1), -ENOENT);
	for (i = 0; i < N; i++) {
		keys[i] = key_of(i);
		assert_int_equal(find(&m, keys[i]), -ENOENT);
		assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[i]), i), 0);
		assert_int_equal(m.len, i + 1);
		/* the full table takes the adds while the next is faulted in */
		assert_true(m.len * 2 * IDX_MAP_TOUCH <= m.cap * (IDX_MAP_TOUCH + 4));
		assert_false(m.next && m.old);

		now = growth_step(&m);
		if (now == 1 && step == 1)
			assert_true(m.touched > touched && m.touched - touched <= IDX_MAP_TOUCH);
		if (now == 2 && step == 2)
			assert_true(m.moved > moved && m.moved - moved <= IDX_MAP_MOVE);
		if (now != step || (now == 2 && m.moved == m.old_cap / 2)) {
			/* the smallest tables are faulted in within one add */
			growths += step == 0;
			copies += now == 2 && step != 2;
			find_all(&m, i + 1);
		} else {
			assert_int_equal(find(&m, keys[i]), i);
			assert_int_equal(find(&m, keys[i / 2]), i / 2);
			assert_int_equal(find(&m, keys[i / 3 * 2]), i / 3 * 2);
			assert_int_equal(find(&m, keys[0]), 0);
		}
		assert_int_equal(find(&m, key_of(i + 1)), -ENOENT);
		step = now;
		touched = m.touched;
		moved = m.moved;
	}
	/* 16 -> 32 -> ... -> 2^23 slots, each growth through both steps */
	assert_int_equal(growths, 19);
	assert_int_equal(copies, 19);
	assert_int_equal(step, 0);
	assert_int_equal(m.cap, 1u << 23);
	find_all(&m, N);
	assert_int_equal(find(&m, 5), -ENOENT);
	idx_map__release(&m);
	assert_int_equal(find(&m, keys[0]), -ENOENT);
	assert_null(m.slots);
}

/*
 * While the old table is copied, the keys not yet copied are found in it
 * (and only in it), those added since only in the new one.
 */
static void test_old_table_searched(void **state)
{
	struct idx_map m, view;
	uint32_t i, before;

	(void)state;
	idx_map__init(&m);
	for (i = 0; i < 100000 || growth_step(&m) != 2; i++) {
		keys[i] = key_of(i);
		assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[i]), i), 0);
	}
	before = i;
	/* the copy has just begun: every key is in the old table only */
	assert_int_equal(m.moved, 0);
	view = m;
	view.old = NULL;
	for (i = 0; i < before; i++) {
		assert_int_equal(find(&view, keys[i]), -ENOENT);
		assert_int_equal(find(&m, keys[i]), i);
	}
	keys[before] = key_of(before);
	assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[before]), before), 0);
	assert_int_equal(m.moved, IDX_MAP_MOVE);
	view = m;
	view.old = NULL;
	assert_int_equal(find(&view, keys[before]), before);
	/* the old table is never written: alone, it has every key from before, not the new one */
	view.slots = m.old;
	view.cap = m.old_cap;
	assert_int_equal(find(&view, keys[before]), -ENOENT);
	find_all(&view, before);
	idx_map__release(&m);
}

/*
 * Keys that all collide, through several growths: probing still ends.
 * Half of them differ in the hash's high 32 bits only, which slots do not
 * keep: the caller's match tells those apart.
 */
static uint64_t collide(uint32_t i)
{
	return 42 + ((uint64_t)(i & 1) << 32 | (uint64_t)(i & 2) << 40);
}

static void test_same_hash(void **state)
{
	struct idx_map m;
	uint32_t i, j;

	(void)state;
	idx_map__init(&m);
	for (i = 0; i < 600; i++) {
		keys[i] = 1000 + i;
		assert_int_equal(idx_map__add(&m, collide(i), i), 0);
		for (j = 0; j <= i; j++)
			assert_int_equal(idx_map__find(&m, collide(j), match, NULL, &keys[j]), j);
		assert_int_equal(idx_map__find(&m, 42, match, NULL, &(uint64_t){ 7 }), -ENOENT);
	}
	assert_int_equal(idx_map__add(&m, 1, UINT32_MAX), -E2BIG);
	assert_int_equal(m.len, 600);
	idx_map__release(&m);
}

/* Released in the middle of either step: nothing leaks (ASan), the map is empty and usable. */
static void test_release_while_growing(void **state)
{
	struct idx_map m;
	int want;
	uint32_t i;

	(void)state;
	for (want = 1; want <= 2; want++) {
		idx_map__init(&m);
		for (i = 0; i < 1000 || growth_step(&m) != want; i++) {
			keys[i] = key_of(i);
			assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[i]), i), 0);
		}
		idx_map__release(&m);
		assert_int_equal(m.len, 0);
		assert_int_equal(growth_step(&m), 0);
		assert_int_equal(find(&m, keys[0]), -ENOENT);
		assert_int_equal(idx_map__add(&m, idx_map__hash_u64(keys[0]), 0), 0);
		assert_int_equal(find(&m, keys[0]), 0);
		idx_map__release(&m);
	}
}

static int setup(void **state)
{
	(void)state;
	keys = calloc(N + 1, sizeof(*keys));
	return keys ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(keys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_step_by_step),
		cmocka_unit_test(test_old_table_searched),
		cmocka_unit_test(test_same_hash),
		cmocka_unit_test(test_release_while_growing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
