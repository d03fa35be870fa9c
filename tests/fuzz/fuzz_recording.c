// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A recording file, untrusted, through everything that reads one: the
 * reader (every item), the replay into a correlator (report), the timeline
 * fed from the same items and both exporters (convert), and the table and
 * JSON report.  Output goes to /dev/null; what is checked is that nothing
 * crashes, leaks or hangs, and that the reader keeps its contract.
 */
#include <errno.h>
#include <string.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "check_timeline.h"
#include "correlator.h"
#include "fuzz.h"
#include "out_chrome.h"
#include "out_json.h"
#include "out_perfetto.h"
#include "out_table.h"
#include "rec_reader.h"
#include "replay.h"
#include "timeline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define MAX_FRAMES 256

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Offsets of the whole frames after the magic; how many. */
static size_t find_frames(const uint8_t *d, size_t size, size_t *offs)
{
	size_t off = REC_MAGIC_LEN, n = 0;

	while (n < MAX_FRAMES && size >= REC_FRAME_HDR_LEN && off <= size - REC_FRAME_HDR_LEN) {
		uint32_t len = fuzz_le32(d + off);

		if (len > size - off - REC_FRAME_HDR_LEN)
			break;
		offs[n++] = off;
		off += REC_FRAME_HDR_LEN + len;
	}
	return n;
}

static void fix_crcs(uint8_t *d, size_t size)
{
	size_t offs[MAX_FRAMES], n = find_frames(d, size, offs);

	for (size_t i = 0; i < n; i++) {
		uint32_t len = fuzz_le32(d + offs[i]);

		put_le32(d + offs[i] + 4, rec_frame__crc(d + offs[i] + REC_FRAME_HDR_LEN, len));
	}
}

/*
 * Every frame carries a CRC-32, which random mutations almost never get
 * right: the reader would refuse them all at the checksum and nothing
 * behind it would be fuzzed.  So most mutations pick one frame, mutate its
 * protobuf payload and fix its length and checksum; some mutate anywhere
 * and fix every checksum; a few leave the damage for the reader to find.
 */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static uint8_t *scratch;
	static size_t scratch_cap;
	size_t offs[MAX_FRAMES], n, off, len, tail, room, newlen;

	n = find_frames(data, size, offs);
	if (seed % 8 == 0 || !n)
		return LLVMFuzzerMutate(data, size, max_size);
	if (seed % 8 == 1) {
		size = LLVMFuzzerMutate(data, size, max_size);
		fix_crcs(data, size);
		return size;
	}
	off = offs[(seed / 8) % n];
	len = fuzz_le32(data + off);
	tail = size - off - REC_FRAME_HDR_LEN - len;
	room = max_size - off - REC_FRAME_HDR_LEN - tail;
	if (!len || !room) {
		size = LLVMFuzzerMutate(data, size, max_size);
		fix_crcs(data, size);
		return size;
	}
	if (scratch_cap < max_size) {
		free(scratch);
		scratch = malloc(max_size);
		scratch_cap = scratch ? max_size : 0;
		if (!scratch)
			return LLVMFuzzerMutate(data, size, max_size);
	}
	memcpy(scratch, data + off + REC_FRAME_HDR_LEN, len);
	newlen = LLVMFuzzerMutate(scratch, len, room);
	memmove(data + off + REC_FRAME_HDR_LEN + newlen, data + off + REC_FRAME_HDR_LEN + len, tail);
	memcpy(data + off + REC_FRAME_HDR_LEN, scratch, newlen);
	put_le32(data + off, (uint32_t)newlen);
	put_le32(data + off + 4, rec_frame__crc(data + off + REC_FRAME_HDR_LEN, newlen));
	return off + REC_FRAME_HDR_LEN + newlen + tail;
}

/* What `convert` does with each item (cmd_convert.c), minus its messages. */
static int to_timeline(void *ctx, const struct rec_item *it)
{
	int err;

	if (it->kind == REC_ITEM_EVENT)
		FUZZ_CHECK(it->record && it->record_size >= sizeof(struct as_event_hdr));
	err = replay__timeline_item(ctx, it);
	return err == -ENOMEM || err == -E2BIG ? err : 0;
}

/* The reader alone: every item, then the same error for ever. */
static void drain(const uint8_t *data, size_t size)
{
	struct rec_reader *rd = rec_reader__open_mem(data, size);
	struct rec_item it;
	int n, again;

	FUZZ_CHECK(rd);
	while ((n = rec_reader__next(rd, &it)) > 0) {
		FUZZ_CHECK(it.kind >= REC_ITEM_HEADER && it.kind <= REC_ITEM_TRAILER);
		FUZZ_CHECK(it.offset < size);
	}
	FUZZ_CHECK(n == 0 || n == -EBADMSG || n == -ENODATA || n == -ENOMEM);
	FUZZ_CHECK(n == 0 || *rec_reader__error(rd));
	again = rec_reader__next(rd, &it);
	FUZZ_CHECK(again == n || (n == 0 && again == 0));
	FUZZ_CHECK(rec_reader__stats(rd)->bytes <= size);
	rec_reader__free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_opts ro = { .sz = sizeof(ro), .on_item = to_timeline };
	struct timeline *tl = timeline__new();
	struct rec_reader *rd;
	struct replay *r = NULL;
	char err[320];

	drain(data, size);

	FUZZ_CHECK(tl);
	rd = rec_reader__open_mem(data, size);
	FUZZ_CHECK(rd);
	ro.ctx = tl;
	/* a small task limit now and then, to reach the over-limit paths */
	ro.max_tasks = size % 7 == 0 ? 3 : 0;
	replay__reader(rd, &ro, &r, err, sizeof(err));
	rec_reader__free(rd);
	if (r) {
		out_table__print(fuzz_null, r->corr, &r->meta);
		out_json__print(fuzz_null, r->corr, &r->meta);
		if (!timeline__finish(tl, r->meta.end_ns ? r->meta.end_ns :
						      correlator__max_ts(r->corr))) {
			check_timeline(tl);
			out_perfetto__write(fuzz_null, tl);
			out_chrome__write(fuzz_null, tl);
		}
	} else {
		FUZZ_CHECK(err[0]);
	}
	replay__free(r);
	timeline__free(tl);
	return 0;
}
