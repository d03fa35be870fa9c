/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading a recording, frame by frame, as a stream of items: the header,
 * processes, threads, one ring-buffer record per event, the trailer.
 * The file is untrusted: every length, checksum and field is checked, and
 * the reader stops at the first damage with a message naming its offset —
 * everything before it has already been handed out.
 */
#ifndef ASYNCSCOPE_REC_READER_H
#define ASYNCSCOPE_REC_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "rec_format.h"

enum rec_item_kind {
	REC_ITEM_HEADER = 1,
	REC_ITEM_PROCESS,
	REC_ITEM_THREAD,
	REC_ITEM_EVENT,
	REC_ITEM_TRAILER,
};

/* Valid until the next rec_reader__next(). */
struct rec_item {
	enum rec_item_kind kind;
	uint64_t offset;			/* of the frame it came from */
	const Asyncscope__TraceHeader *header;
	const Asyncscope__ProcessInfo *process;
	const Asyncscope__ThreadInfo *thread;
	const Asyncscope__Trailer *trailer;
	const void *record;			/* REC_ITEM_EVENT: a ring-buffer record */
	size_t record_size;
};

struct rec_reader_stats {
	uint64_t frames;
	uint64_t chunks;
	uint64_t events;			/* records handed out */
	uint64_t bad_events;			/* events in a sound chunk that are no valid record: skipped */
	uint64_t missing_chunks;		/* gaps between chunk sequence numbers */
	uint64_t bytes;				/* bytes of whole frames read */
};

struct rec_reader;

/* NULL with errno set (ENOENT, EACCES, ...) when the file cannot be opened. */
struct rec_reader *rec_reader__open(const char *path);
/* Read from memory (tests, fuzzing); buf must outlive the reader. */
struct rec_reader *rec_reader__open_mem(const void *buf, size_t len);
void rec_reader__free(struct rec_reader *r);	/* NULL-safe */

/*
 * The next item: 1, or 0 at a clean end after the trailer, or a negative
 * errno when the rest cannot be read, with rec_reader__error() saying why
 * and where:
 *   -EBADMSG   not a recording, a damaged frame (checksum, length, not a
 *              valid message), or frames out of order
 *   -ENODATA   the file ends early: inside a frame, or before the trailer
 *   -EIO       reading the file failed
 * Once it fails, it keeps failing the same way.
 */
int rec_reader__next(struct rec_reader *r, struct rec_item *it);

const char *rec_reader__error(const struct rec_reader *r);
const struct rec_reader_stats *rec_reader__stats(const struct rec_reader *r);

#endif
