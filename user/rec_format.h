/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The recording format's building blocks (proto/trace.proto): framing
 * (magic, length, CRC-32), ring-buffer records <-> Event messages, and the
 * kernel counters <-> KernelCounters.  Pure: no I/O.
 */
#ifndef ASYNCSCOPE_REC_FORMAT_H
#define ASYNCSCOPE_REC_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncscope.h"
#include "trace.pb-c.h"

#define REC_MAGIC		"ASTRACE\n"
#define REC_MAGIC_LEN		8
#define REC_FORMAT_VERSION	1
#define REC_FRAME_HDR_LEN	8		/* u32 length, u32 crc32, little-endian */
#define REC_FRAME_MAX		(64u << 20)	/* larger lengths are damage, not data */

/*
 * Pack f into a new buffer holding the frame header and payload (free()
 * it).  0 or -ENOMEM / -E2BIG (payload over REC_FRAME_MAX).
 */
int rec_frame__encode(const Asyncscope__Frame *f, uint8_t **buf, size_t *len);

/* Parse a frame header; the payload length is checked against REC_FRAME_MAX. */
int rec_frame__parse_hdr(const uint8_t hdr[REC_FRAME_HDR_LEN], uint32_t *len, uint32_t *crc);
uint32_t rec_frame__crc(const void *payload, size_t len);

/*
 * A ring-buffer record as an Event.  ev must be ASYNCSCOPE__EVENT__INIT'ed
 * by the caller; string/bytes fields point into rec.  0, or -EINVAL for a
 * record that is short, oversized or of an unknown type.
 */
int rec_event__from_record(const void *rec, size_t size, Asyncscope__Event *ev);

/*
 * An Event back into a ring-buffer record; *size is the record's size.
 * 0, or -EINVAL when the event is not a valid record (unknown type, field
 * out of range, file too long).
 */
int rec_event__to_record(const Asyncscope__Event *ev, union as_record *out, size_t *size);

/* Summed counters (AS_CNT_NR entries) <-> message; drops points to AS_EV__MAX slots. */
void rec_counters__to_proto(const uint64_t *c, Asyncscope__KernelCounters *k, uint64_t *drops);
void rec_counters__from_proto(const Asyncscope__KernelCounters *k, uint64_t *c);

#endif
