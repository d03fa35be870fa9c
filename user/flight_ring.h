/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The flight recorder's window: the most recent frames (opaque byte blobs,
 * each with the time span of its events), kept in one circular buffer
 * allocated once.  Pushing evicts the oldest frames until the new one fits,
 * so the memory held never exceeds max_bytes however long it runs;
 * expiring evicts the frames older than max_age.  Pure logic: no I/O, no
 * locking (one thread owns a ring).
 *
 * Layout: every frame is a 24-byte header (payload length, time span)
 * followed by its payload, padded to 8 bytes; a frame takes
 * flight_ring__footprint(len) bytes of max_bytes.  The buffer is a plain
 * byte FIFO: a frame (or its header) that reaches the end of the buffer
 * continues at its start, so no space is lost to wrapping and the frames
 * kept are exactly the newest whose footprints add up to at most max_bytes.
 * flight_ring__for_each still hands out one contiguous pointer per frame:
 * when the held frames wrap, it first rotates the buffer in place so they
 * start at offset 0 (O(capacity), no scratch memory, only at dump time).
 */
#ifndef ASYNCSCOPE_FLIGHT_RING_H
#define ASYNCSCOPE_FLIGHT_RING_H

#include <stddef.h>
#include <stdint.h>

#define FLIGHT_RING_FRAME_HDR		24		/* bytes of header per frame */
#define FLIGHT_RING_MIN_BYTES		(1ull << 20)	/* the smallest size a spec may ask for */
#define FLIGHT_RING_MAX_BYTES		(1ull << 40)	/* the largest */
#define FLIGHT_RING_DEFAULT_BYTES	(64ull << 20)	/* a spec that gives only a duration */

struct flight_ring_opts {
	size_t sz;			/* sizeof(struct flight_ring_opts) */
	uint64_t max_bytes;		/* bound on the buffer, headers included; rounded down to 8 */
	uint64_t max_age_ns;		/* 0: no age limit */
};

struct flight_ring_stats {
	uint64_t capacity;		/* max_bytes rounded down to 8: the buffer's size */
	uint64_t used_bytes;		/* footprints of the frames held (<= capacity) */
	uint64_t peak_used_bytes;	/* the most used_bytes ever was */
	uint64_t frames;		/* frames held */
	uint64_t frame_bytes;		/* their payload bytes */
	uint64_t pushed_frames;		/* ever pushed (held + evicted) */
	uint64_t pushed_bytes;		/* their payload bytes */
	uint64_t evicted_size_frames;	/* evicted to make room */
	uint64_t evicted_size_bytes;	/* their payload bytes */
	uint64_t evicted_age_frames;	/* evicted by flight_ring__expire */
	uint64_t evicted_age_bytes;	/* their payload bytes */
	uint64_t oldest_ts;		/* first_ts of the oldest frame held; 0 if none */
	uint64_t newest_ts;		/* last_ts of the newest frame held; 0 if none */
};

struct flight_ring;

/* NULL with errno: EINVAL (no opts, too short, max_bytes < one header + 8), ENOMEM. */
struct flight_ring *flight_ring__new(const struct flight_ring_opts *opts);
void flight_ring__free(struct flight_ring *r);	/* NULL-safe */

/* Bytes of the buffer a frame of len payload bytes takes. */
static inline uint64_t flight_ring__footprint(size_t len)
{
	return FLIGHT_RING_FRAME_HDR + (((uint64_t)len + 7) & ~7ull);
}

/*
 * Copy a frame in, evicting the oldest frames until it fits.  0, -E2BIG
 * when it can never fit (footprint > capacity, or len >= 4 GiB: split it),
 * -EINVAL for first_ts > last_ts, -EBUSY inside flight_ring__for_each.
 * Frames are expected in time order: expiry goes oldest first.
 */
int flight_ring__push(struct flight_ring *r, const void *frame, size_t len, uint64_t first_ts,
		      uint64_t last_ts);

/*
 * Evict the oldest frames while their last_ts < now_ns - max_age (none
 * when max_age is 0 or now_ns < max_age).  Stops at the first frame young
 * enough.  Does nothing inside flight_ring__for_each.
 */
void flight_ring__expire(struct flight_ring *r, uint64_t now_ns);

typedef int (*flight_ring_frame_fn)(void *ctx, const void *frame, size_t len, uint64_t first_ts,
				    uint64_t last_ts);

/*
 * Call fn for every frame held, oldest to newest, with a contiguous pointer
 * into the buffer (valid only during the call; fn must not push).  Stops
 * at and returns fn's first non-zero result; 0 otherwise.  May rotate the
 * buffer in place (see above), which changes nothing else.
 */
int flight_ring__for_each(struct flight_ring *r, flight_ring_frame_fn fn, void *ctx);

void flight_ring__stats(const struct flight_ring *r, struct flight_ring_stats *s);

/*
 * Parse a --flight-recorder spec: "DURATION,SIZE", "SIZE" or "DURATION",
 * e.g. "60s,256MiB", "256MiB", "30s", "2m,64M" (units as parse_duration_ns
 * and parse_size take them; a bare number is refused: it is ambiguous).
 * Without a duration there is no age limit (*max_age_ns = 0); without a
 * size, FLIGHT_RING_DEFAULT_BYTES.  The size must be from
 * FLIGHT_RING_MIN_BYTES to FLIGHT_RING_MAX_BYTES, the duration positive.
 * 0, or -EINVAL with a one-line message in err (outputs untouched).
 */
int flight_ring__parse_spec(const char *spec, uint64_t *max_age_ns, uint64_t *max_bytes,
			    char *err, size_t errlen);

#endif
