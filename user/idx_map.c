// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "idx_map.h"

#define IDX_MAP_MIN_CAP		16
/* The kernel maps a page at its first write; pages are at least 4 KiB. */
#define IDX_MAP_PAGE_SLOTS	(4096 / sizeof(struct idx_map_slot))

/* A slot keeps the hash's low 32 bits: all that places a key in 2^32 slots. */
#define IDX_MAP_MAX_CAP		(1ull << 32)

/*
 * For a table of cap slots growing to 2 * cap: faulting in takes
 * 2 * cap / TOUCH adds, copying cap / MOVE; both must be over before the
 * new table is half full (cap / 2 adds), and the full table takes the adds
 * of the first: 1/2 + 2 / TOUCH <= 9/16.
 */
_Static_assert(4 * IDX_MAP_MOVE + 2 * IDX_MAP_TOUCH <= IDX_MAP_TOUCH * IDX_MAP_MOVE,
	       "growing must end before the next growth");
_Static_assert(IDX_MAP_TOUCH >= 32, "the full table must stay at most 9/16 full");
_Static_assert(sizeof(struct idx_map_slot) == 8, "a slot is 8 bytes");

void idx_map__init(struct idx_map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
	m->next = NULL;
	m->next_cap = 0;
	m->touched = 0;
	m->old = NULL;
	m->old_cap = 0;
	m->moved = 0;
}

void idx_map__release(struct idx_map *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m->next);
	free(m->old);
	idx_map__init(m);
}

static long table_find(const struct idx_map_slot *slots, size_t cap, uint64_t hash,
		       idx_map_match_fn match, const void *ctx, const void *key)
{
	size_t mask = cap - 1, i;

	/* A table is never full, so the probe always ends. */
	for (i = hash & mask; slots[i].idx1; i = (i + 1) & mask) {
		const struct idx_map_slot *s = &slots[i];

		if (s->hash == (uint32_t)hash && match(ctx, s->idx1 - 1, key))
			return s->idx1 - 1;
	}
	return -ENOENT;
}

/*
 * While copying, a key is in the new table (added since, or copied) or
 * still only in the old one, which holds every key added before: the
 * union of both is the whole map.
 */
long idx_map__find(const struct idx_map *m, uint64_t hash, idx_map_match_fn match,
		   const void *ctx, const void *key)
{
	long idx;

	if (!m->cap)
		return -ENOENT;
	idx = table_find(m->slots, m->cap, hash, match, ctx, key);
	if (idx < 0 && m->old)
		idx = table_find(m->old, m->old_cap, hash, match, ctx, key);
	return idx;
}

static void slot_put(struct idx_map_slot *slots, size_t cap, uint32_t hash, uint32_t idx1)
{
	size_t mask = cap - 1, i;

	for (i = hash & mask; slots[i].idx1; i = (i + 1) & mask)
		;
	slots[i].hash = hash;
	slots[i].idx1 = idx1;
}

/*
 * Step 2: copies up to IDX_MAP_MOVE slots of the old table into the new
 * one, and frees the old table once all are.  Each old slot is copied
 * once, so no key is ever twice in the new table.
 */
static void idx_map_move(struct idx_map *m)
{
	size_t end = m->moved + IDX_MAP_MOVE;

	if (end > m->old_cap)
		end = m->old_cap;
	for (; m->moved < end; m->moved++) {
		const struct idx_map_slot *s = &m->old[m->moved];

		if (s->idx1)
			slot_put(m->slots, m->cap, s->hash, s->idx1);
	}
	if (m->moved < m->old_cap)
		return;
	free(m->old);
	m->old = NULL;
	m->old_cap = 0;
	m->moved = 0;
}

/*
 * Step 1: faults in the next IDX_MAP_TOUCH slots of the next table, in
 * order; once all are, it takes the adds and step 2 starts.  calloc()
 * leaves a large table unmapped, and the copy would otherwise fault it in
 * all at once: its writes land at random.
 */
static void idx_map_touch(struct idx_map *m)
{
	volatile struct idx_map_slot *next = m->next;
	size_t end = m->touched + IDX_MAP_TOUCH, i;

	if (end > m->next_cap)
		end = m->next_cap;
	i = (m->touched + IDX_MAP_PAGE_SLOTS - 1) / IDX_MAP_PAGE_SLOTS * IDX_MAP_PAGE_SLOTS;
	for (; i < end; i += IDX_MAP_PAGE_SLOTS)
		next[i].idx1 = 0;
	m->touched = end;
	if (end < m->next_cap)
		return;
	m->old = m->slots;
	m->old_cap = m->cap;
	m->moved = 0;
	m->slots = m->next;
	m->cap = m->next_cap;
	m->next = NULL;
	m->next_cap = 0;
	m->touched = 0;
}

/* Allocates the next table, twice the size (the first one is used at once). */
static int idx_map_grow(struct idx_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : IDX_MAP_MIN_CAP;
	struct idx_map_slot *slots;

	if (cap > IDX_MAP_MAX_CAP || cap > SIZE_MAX / sizeof(*slots))
		return -E2BIG;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (!m->cap) {
		m->slots = slots;
		m->cap = cap;
		return 0;
	}
	m->next = slots;
	m->next_cap = cap;
	m->touched = 0;
	return 0;
}

int idx_map__add(struct idx_map *m, uint64_t hash, uint32_t idx)
{
	int err;

	if (idx == UINT32_MAX)
		return -E2BIG;
	/* While growing, the asserts above keep the table from filling. */
	if (!m->next && !m->old && (m->len + 1) * 2 > m->cap) {
		err = idx_map_grow(m);
		if (err)
			return err;
	}
	slot_put(m->slots, m->cap, (uint32_t)hash, idx + 1);
	m->len++;
	if (m->next)
		idx_map_touch(m);
	else if (m->old)
		idx_map_move(m);
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
