// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "idx_map.h"

#define IDX_MAP_MIN_CAP		16

void idx_map__init(struct idx_map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}

void idx_map__release(struct idx_map *m)
{
	if (!m)
		return;
	free(m->slots);
	idx_map__init(m);
}

long idx_map__find(const struct idx_map *m, uint64_t hash, idx_map_match_fn match,
		   const void *ctx, const void *key)
{
	size_t mask, i;

	if (!m->cap)
		return -ENOENT;
	mask = m->cap - 1;
	/* The table is never more than half full, so the probe always ends. */
	for (i = hash & mask; m->slots[i].idx1; i = (i + 1) & mask) {
		const struct idx_map_slot *s = &m->slots[i];

		if (s->hash == hash && match(ctx, s->idx1 - 1, key))
			return s->idx1 - 1;
	}
	return -ENOENT;
}

static void slot_put(struct idx_map_slot *slots, size_t cap, uint64_t hash, uint32_t idx1)
{
	size_t mask = cap - 1, i;

	for (i = hash & mask; slots[i].idx1; i = (i + 1) & mask)
		;
	slots[i].hash = hash;
	slots[i].idx1 = idx1;
}

static int idx_map_grow(struct idx_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : IDX_MAP_MIN_CAP, i;
	struct idx_map_slot *slots;

	if (cap > SIZE_MAX / sizeof(*slots))
		return -E2BIG;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].idx1)
			slot_put(slots, cap, m->slots[i].hash, m->slots[i].idx1);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int idx_map__add(struct idx_map *m, uint64_t hash, uint32_t idx)
{
	int err;

	if (idx == UINT32_MAX)
		return -E2BIG;
	if ((m->len + 1) * 2 > m->cap) {
		err = idx_map_grow(m);
		if (err)
			return err;
	}
	slot_put(m->slots, m->cap, hash, idx + 1);
	m->len++;
	return 0;
}

/* splitmix64's finalizer: task ids are sequential, so the low bits need mixing. */
uint64_t idx_map__hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* FNV-1a, then mixed: short path strings differ mostly in their last bytes. */
uint64_t idx_map__hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return idx_map__hash_u64(h);
}
