// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The flight recorder's window: a byte FIFO of frames in one buffer.
 *
 * The buffer is a ring of cap bytes (a multiple of 8); the frames held
 * occupy the used bytes from head on, wrapping at cap.  Every frame is a
 * struct frame_hdr, its payload and zero padding to 8 bytes, so headers
 * and frames start 8-aligned, and a header or payload may be cut in two by
 * the end of the buffer: copies in and out go through ring_write() and
 * ring_read(), which split them.  for_each() rotates a wrapped ring so that
 * everything it hands out is contiguous.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "flight_ring.h"

struct frame_hdr {
	uint32_t len;		/* payload bytes */
	uint32_t reserved;
	uint64_t first_ts;
	uint64_t last_ts;
};

_Static_assert(sizeof(struct frame_hdr) == FLIGHT_RING_FRAME_HDR, "frame header size");

struct flight_ring {
	uint8_t *buf;
	uint64_t cap;
	uint64_t head;		/* offset of the oldest frame's header */
	uint64_t used;		/* bytes held from head on, wrapping */
	uint64_t max_age_ns;
	int iterating;		/* inside for_each: the buffer is lent out */
	struct flight_ring_stats st;
};

struct flight_ring *flight_ring__new(const struct flight_ring_opts *opts)
{
	struct flight_ring *r;
	uint64_t cap;

	if (!opts || opts->sz < sizeof(*opts)) {
		errno = EINVAL;
		return NULL;
	}
	cap = opts->max_bytes & ~7ull;
	if (cap < flight_ring__footprint(1) || cap > SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	/* large enough for malloc to mmap it: pages are only committed as frames arrive */
	r->buf = malloc(cap);
	if (!r->buf) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->cap = cap;
	r->max_age_ns = opts->max_age_ns;
	r->st.capacity = cap;
	return r;
}

void flight_ring__free(struct flight_ring *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

static void ring_write(struct flight_ring *r, uint64_t off, const void *src, uint64_t n)
{
	uint64_t first = n < r->cap - off ? n : r->cap - off;

	if (first)
		memcpy(r->buf + off, src, first);
	if (n > first)
		memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

static void ring_read(const struct flight_ring *r, uint64_t off, void *dst, uint64_t n)
{
	uint64_t first = n < r->cap - off ? n : r->cap - off;

	memcpy(dst, r->buf + off, first);
	if (n > first)
		memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static uint64_t ring_off(const struct flight_ring *r, uint64_t off)
{
	return off >= r->cap ? off - r->cap : off;
}

/* Drop the oldest frame; counted by size (by_age 0) or by age. */
static void evict_oldest(struct flight_ring *r, int by_age)
{
	struct frame_hdr h;
	uint64_t fp;

	ring_read(r, r->head, &h, sizeof(h));
	fp = flight_ring__footprint(h.len);
	r->head = ring_off(r, r->head + fp);
	r->used -= fp;
	r->st.frames--;
	r->st.frame_bytes -= h.len;
	if (by_age) {
		r->st.evicted_age_frames++;
		r->st.evicted_age_bytes += h.len;
	} else {
		r->st.evicted_size_frames++;
		r->st.evicted_size_bytes += h.len;
	}
	if (!r->used) {
		/* empty: start over at 0, so the next frames need not wrap */
		r->head = 0;
		r->st.newest_ts = 0;
	}
}

int flight_ring__push(struct flight_ring *r, const void *frame, size_t len, uint64_t first_ts,
		      uint64_t last_ts)
{
	static const uint8_t zeros[8];
	struct frame_hdr h = { .first_ts = first_ts, .last_ts = last_ts };
	uint64_t need, off;

	if (r->iterating)
		return -EBUSY;
	if (first_ts > last_ts || (!frame && len))
		return -EINVAL;
	if (len > UINT32_MAX)
		return -E2BIG;
	need = flight_ring__footprint(len);
	if (need > r->cap)
		return -E2BIG;
	while (r->cap - r->used < need)
		evict_oldest(r, 0);

	h.len = (uint32_t)len;
	off = ring_off(r, r->head + r->used);
	ring_write(r, off, &h, sizeof(h));
	off = ring_off(r, off + sizeof(h));
	ring_write(r, off, frame, len);
	if (need - sizeof(h) > len)
		ring_write(r, ring_off(r, off + len), zeros, need - sizeof(h) - len);

	r->used += need;
	r->st.frames++;
	r->st.frame_bytes += len;
	r->st.pushed_frames++;
	r->st.pushed_bytes += len;
	r->st.newest_ts = last_ts;
	if (r->used > r->st.peak_used_bytes)
		r->st.peak_used_bytes = r->used;
	return 0;
}

void flight_ring__expire(struct flight_ring *r, uint64_t now_ns)
{
	uint64_t cutoff;
	struct frame_hdr h;

	if (r->iterating || !r->max_age_ns || now_ns < r->max_age_ns)
		return;
	cutoff = now_ns - r->max_age_ns;
	while (r->used) {
		ring_read(r, r->head, &h, sizeof(h));
		if (h.last_ts >= cutoff)
			break;
		evict_oldest(r, 1);
	}
}

static void swap_words(uint8_t *a, uint8_t *b)
{
	uint64_t x, y;

	/* memcpy: the buffer holds bytes, not uint64_t objects */
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	memcpy(a, &y, 8);
	memcpy(b, &x, 8);
}

/* Reverse the order of the 8-byte words in [lo, hi) (word indexes). */
static void reverse_words(uint8_t *buf, uint64_t lo, uint64_t hi)
{
	while (hi > lo + 1) {
		hi--;
		swap_words(buf + lo * 8, buf + hi * 8);
		lo++;
	}
}

/*
 * Move the held bytes to [0, used): rotate the whole buffer left by head,
 * by three reversals of 8-byte words (head and cap are multiples of 8).
 */
static void linearize(struct flight_ring *r)
{
	uint64_t n = r->cap / 8, k = r->head / 8;

	reverse_words(r->buf, 0, k);
	reverse_words(r->buf, k, n);
	reverse_words(r->buf, 0, n);
	r->head = 0;
}

int flight_ring__for_each(struct flight_ring *r, flight_ring_frame_fn fn, void *ctx)
{
	struct frame_hdr h;
	uint64_t off, n;
	int err = 0;

	if (!fn)
		return -EINVAL;
	if (r->iterating)
		return -EBUSY;
	if (r->head + r->used > r->cap)
		linearize(r);
	r->iterating = 1;
	off = r->head;
	for (n = r->st.frames; n; n--) {
		memcpy(&h, r->buf + off, sizeof(h));
		err = fn(ctx, r->buf + off + sizeof(h), h.len, h.first_ts, h.last_ts);
		if (err)
			break;
		off += flight_ring__footprint(h.len);
	}
	r->iterating = 0;
	return err;
}

void flight_ring__stats(const struct flight_ring *r, struct flight_ring_stats *s)
{
	struct frame_hdr h;

	*s = r->st;
	s->used_bytes = r->used;
	s->oldest_ts = 0;
	if (r->used) {
		ring_read(r, r->head, &h, sizeof(h));
		s->oldest_ts = h.first_ts;
	}
}

/* --- the --flight-recorder spec --- */

enum spec_kind { SPEC_BAD, SPEC_AMBIGUOUS, SPEC_DURATION, SPEC_SIZE };

static enum spec_kind classify(const char *tok, uint64_t *v)
{
	uint64_t ns, bytes;
	int is_dur = !parse_duration_ns(tok, &ns);
	int is_size = !parse_size(tok, &bytes);

	/* a bare number parses as both (seconds and bytes) */
	if (is_dur && is_size)
		return SPEC_AMBIGUOUS;
	if (is_dur) {
		*v = ns;
		return SPEC_DURATION;
	}
	if (is_size) {
		*v = bytes;
		return SPEC_SIZE;
	}
	return SPEC_BAD;
}

int flight_ring__parse_spec(const char *spec, uint64_t *max_age_ns, uint64_t *max_bytes,
			    char *err, size_t errlen)
{
	static const char units[] = "durations take s, ms, m or h (30s, 2m); sizes K, KiB, M, MiB, G or GiB (256MiB, 64M)";
	uint64_t age = 0, bytes = FLIGHT_RING_DEFAULT_BYTES, v;
	int have_age = 0, have_size = 0, parts = 0;
	const char *p = spec;
	char tok[64];

	if (!err || !errlen) {
		err = tok;
		errlen = sizeof(tok);
	}
	if (!spec || !*spec) {
		snprintf(err, errlen, "empty --flight-recorder: expected DURATION,SIZE such as 60s,256MiB");
		return -EINVAL;
	}
	while (p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (++parts > 2) {
			snprintf(err, errlen, "invalid --flight-recorder '%s': expected DURATION,SIZE such as 60s,256MiB",
				 spec);
			return -EINVAL;
		}
		if (!n || n >= sizeof(tok)) {
			snprintf(err, errlen, "invalid --flight-recorder '%s': %s part; expected DURATION,SIZE such as 60s,256MiB",
				 spec, n ? "too long a" : "an empty");
			return -EINVAL;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		p = comma ? comma + 1 : NULL;

		switch (classify(tok, &v)) {
		case SPEC_AMBIGUOUS:
			snprintf(err, errlen, "invalid --flight-recorder '%s': '%s' needs a unit: %s",
				 spec, tok, units);
			return -EINVAL;
		case SPEC_BAD:
			snprintf(err, errlen, "invalid --flight-recorder '%s': '%s' is neither a duration nor a size: %s",
				 spec, tok, units);
			return -EINVAL;
		case SPEC_DURATION:
			if (have_age) {
				/* "60s,64m": m is minutes, and easily meant as MiB */
				snprintf(err, errlen, "invalid --flight-recorder '%s': two durations ('%s' is a duration; sizes take K, M or G, e.g. 64M)",
					 spec, tok);
				return -EINVAL;
			}
			if (!v) {
				snprintf(err, errlen, "invalid --flight-recorder '%s': the duration must be positive",
					 spec);
				return -EINVAL;
			}
			have_age = 1;
			age = v;
			break;
		case SPEC_SIZE:
			if (have_size) {
				snprintf(err, errlen, "invalid --flight-recorder '%s': two sizes; expected DURATION,SIZE such as 60s,256MiB",
					 spec);
				return -EINVAL;
			}
			if (v < FLIGHT_RING_MIN_BYTES || v > FLIGHT_RING_MAX_BYTES) {
				snprintf(err, errlen, "invalid --flight-recorder '%s': the size must be from 1MiB to 1024GiB",
					 spec);
				return -EINVAL;
			}
			have_size = 1;
			bytes = v;
			break;
		}
	}
	*max_age_ns = age;
	*max_bytes = bytes;
	return 0;
}
