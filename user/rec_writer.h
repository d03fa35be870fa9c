/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Writing a recording: records in, frames out.  The writer batches records
 * into Chunk frames and hands every finished frame to an emit callback —
 * a file, or the flight recorder's window — so it does no I/O itself.
 * A ThreadInfo frame (name from a callback) precedes the first chunk that
 * holds a thread's records.
 */
#ifndef ASYNCSCOPE_REC_WRITER_H
#define ASYNCSCOPE_REC_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "rec_format.h"

enum rec_frame_kind {
	REC_FRAME_HEADER = 0,
	REC_FRAME_PROCESS,
	REC_FRAME_THREAD,
	REC_FRAME_CHUNK,
	REC_FRAME_TRAILER,
};

/* A whole frame (header + payload); first/last_ts only for chunks.  0 or -errno. */
typedef int (*rec_emit_fn)(void *ctx, enum rec_frame_kind kind, const uint8_t *frame,
			   size_t len, uint64_t first_ts, uint64_t last_ts);
/* The name of thread tid of pid into buf; non-zero: no name. */
typedef int (*rec_thread_name_fn)(void *ctx, uint32_t pid, uint32_t tid, char *buf, size_t size);

struct rec_writer_opts {
	size_t sz;			/* sizeof(struct rec_writer_opts) */
	rec_emit_fn emit;
	rec_thread_name_fn thread_name;	/* NULL: threads go unnamed */
	void *ctx;
	size_t chunk_events;		/* a chunk is emitted when this full; 0: 4096 */
};

struct rec_writer_stats {
	uint64_t chunks;		/* chunk frames emitted */
	uint64_t events;		/* events in them */
	uint64_t bytes;			/* bytes of every frame emitted */
	uint64_t malformed;		/* records refused (not counted in events) */
};

struct rec_writer;

struct rec_writer *rec_writer__new(const struct rec_writer_opts *opts);
void rec_writer__free(struct rec_writer *w);	/* NULL-safe; drops an unflushed chunk */

int rec_writer__header(struct rec_writer *w, const Asyncscope__TraceHeader *h);
int rec_writer__process(struct rec_writer *w, const Asyncscope__ProcessInfo *p);
/* Name a thread now (otherwise it is named at its first record). */
int rec_writer__thread(struct rec_writer *w, uint32_t pid, uint32_t tid, const char *name);

/*
 * Add one ring-buffer record (copied).  -EINVAL for a malformed record
 * (counted, skipped); otherwise 0 or the emit callback's error.
 */
int rec_writer__add(struct rec_writer *w, const void *rec, size_t size);

/* Emit the chunk in progress, if any. */
int rec_writer__flush(struct rec_writer *w);

/* Flush, then emit the trailer; fills t->chunks and t->events from the stats. */
int rec_writer__trailer(struct rec_writer *w, Asyncscope__Trailer *t);

const struct rec_writer_stats *rec_writer__stats(const struct rec_writer *w);

/* Emit a frame of one's own making (e.g. a flight-recorder dump's trailer). */
int rec_writer__emit_frame(struct rec_writer *w, enum rec_frame_kind kind, const Asyncscope__Frame *f);

/* write() all of buf to fd, retrying short writes and EINTR; 0 or -errno. */
int rec_write_all(int fd, const void *buf, size_t len);

#endif
