/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small open-addressing hash index: hash -> position in a caller-owned
 * array.  The table stores only (hash, index); the caller's match callback
 * compares the key with its own entry, so one table type serves tasks keyed
 * by (pid, id), interned strings and (pid, type index) pairs alike, and the
 * entries stay where the caller put them (pointers into them remain valid).
 * No deletion: the correlator only ever adds.
 */
#ifndef ASYNCSCOPE_IDX_MAP_H
#define ASYNCSCOPE_IDX_MAP_H

#include <stddef.h>
#include <stdint.h>

struct idx_map_slot {
	uint64_t hash;
	uint32_t idx1;		/* index + 1; 0 marks an empty slot */
	uint32_t pad;
};

struct idx_map {
	struct idx_map_slot *slots;
	size_t cap;		/* power of two, or 0 before the first add */
	size_t len;
};

/* Nonzero when entry idx of the caller's array holds key. */
typedef int (*idx_map_match_fn)(const void *ctx, uint32_t idx, const void *key);

void idx_map__init(struct idx_map *m);
void idx_map__release(struct idx_map *m);	/* NULL-safe; leaves an empty map */

/* The index whose entry matches key, or -ENOENT. */
long idx_map__find(const struct idx_map *m, uint64_t hash, idx_map_match_fn match,
		   const void *ctx, const void *key);

/* Adds idx under hash; the caller has checked the key is absent.  0 or -ENOMEM/-E2BIG. */
int idx_map__add(struct idx_map *m, uint64_t hash, uint32_t idx);

uint64_t idx_map__hash_u64(uint64_t x);
uint64_t idx_map__hash_bytes(const void *data, size_t len);

#endif
