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

/*
 * 8 bytes: the low half of the hash is all a table of up to 2^32 slots
 * places by, and it still tells most keys apart before the caller's match
 * is asked.  Half the memory of a full hash, half the pages to fault in.
 */
struct idx_map_slot {
	uint32_t hash;		/* the hash's low 32 bits */
	uint32_t idx1;		/* index + 1; 0 marks an empty slot */
};

/*
 * Growing never stops the world: copying a table of millions of tasks at
 * once takes tens of milliseconds, and so does faulting in the pages of the
 * next one (microseconds each in a VM), longer than a ring buffer waits.
 * So when the table is half full, one twice the size is allocated, then
 *   1. faulted in, in order, IDX_MAP_TOUCH slots (a 4 KiB page every 8
 *      adds) per add, while adds still go to the full table (17/32 at most);
 *   2. it takes the adds, while the old table is copied into it,
 *      IDX_MAP_MOVE slots per add; the old one is searched too until freed.
 * Both steps end within old_cap / 32 + old_cap / 8 adds, long before the
 * new table is half full.
 */
#define IDX_MAP_TOUCH		64
#define IDX_MAP_MOVE		8

struct idx_map {
	struct idx_map_slot *slots;	/* the table adds go to */
	size_t cap;		/* power of two, or 0 before the first add */
	size_t len;
	/* step 1: the next table, next[0, touched) faulted in; NULL otherwise */
	struct idx_map_slot *next;
	size_t next_cap;
	size_t touched;
	/*
	 * step 2: the previous table, never written again, searched after
	 * slots until every one of its slots, in order, has been copied
	 * (old[0, moved) are); NULL otherwise.
	 */
	struct idx_map_slot *old;
	size_t old_cap;
	size_t moved;
};

/* Nonzero when entry idx of the caller's array holds key. */
typedef int (*idx_map_match_fn)(const void *ctx, uint32_t idx, const void *key);

void idx_map__init(struct idx_map *m);
void idx_map__release(struct idx_map *m);	/* NULL-safe; leaves an empty map */

/* The index whose entry matches key, or -ENOENT. */
long idx_map__find(const struct idx_map *m, uint64_t hash, idx_map_match_fn match,
		   const void *ctx, const void *key);

/*
 * Adds idx under hash; the caller has checked the key is absent.  0, or
 * -ENOMEM, or -E2BIG (idx UINT32_MAX, or past 2^31 keys).  Bounded work:
 * at most one page of a new table faulted in or IDX_MAP_MOVE slots copied,
 * besides allocating the new table and freeing the old one (for a large
 * table, a mapping made and one removed).
 */
int idx_map__add(struct idx_map *m, uint64_t hash, uint32_t idx);

uint64_t idx_map__hash_u64(uint64_t x);
uint64_t idx_map__hash_bytes(const void *data, size_t len);

#endif
