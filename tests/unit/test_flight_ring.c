// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The flight recorder's window: wrapping, eviction order, the memory bound, expiry, specs. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flight_ring.h"

#define MAX_SEEN 4096

/* What for_each handed out, copied. */
struct seen {
	size_t n;
	size_t len[MAX_SEEN];
	uint64_t first[MAX_SEEN], last[MAX_SEEN];
	uint8_t *data[MAX_SEEN];
	int stop_at;		/* return 7 at this call (1-based); 0: never */
	struct flight_ring *r;	/* set: try pushing from inside fn */
	int push_err;
};

static int collect(void *ctx, const void *frame, size_t len, uint64_t first_ts, uint64_t last_ts)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	assert_true(len == 0 || frame != NULL);
	s->len[s->n] = len;
	s->first[s->n] = first_ts;
	s->last[s->n] = last_ts;
	s->data[s->n] = malloc(len ? len : 1);
	assert_non_null(s->data[s->n]);
	memcpy(s->data[s->n], frame, len);
	s->n++;
	if (s->r)
		s->push_err = flight_ring__push(s->r, "x", 1, 0, 0);
	return s->stop_at && (int)s->n == s->stop_at ? 7 : 0;
}

static void seen_reset(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	memset(s, 0, sizeof(*s));
}

static struct flight_ring *ring(uint64_t max_bytes, uint64_t max_age_ns)
{
	struct flight_ring_opts o = { .sz = sizeof(o), .max_bytes = max_bytes, .max_age_ns = max_age_ns };
	struct flight_ring *r = flight_ring__new(&o);

	assert_non_null(r);
	return r;
}

/* Frame i's content: a byte pattern that differs per frame and per offset. */
static void fill(uint8_t *buf, size_t len, uint64_t i)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 131 + k * 7 + (k >> 8));
}

static void push_n(struct flight_ring *r, uint64_t i, size_t len)
{
	uint8_t buf[1024];

	assert_true(len <= sizeof(buf));
	fill(buf, len, i);
	assert_int_equal(flight_ring__push(r, buf, len, i * 10, i * 10 + 5), 0);
}

static void check_frame(const struct seen *s, size_t at, uint64_t i, size_t len)
{
	uint8_t want[1024];

	assert_int_equal(s->len[at], len);
	assert_int_equal(s->first[at], i * 10);
	assert_int_equal(s->last[at], i * 10 + 5);
	fill(want, len, i);
	assert_memory_equal(s->data[at], want, len);
}

static void test_new_bad(void **state)
{
	struct flight_ring_opts o = { .sz = sizeof(o), .max_bytes = 31 };

	(void)state;
	errno = 0;
	assert_null(flight_ring__new(NULL));
	assert_int_equal(errno, EINVAL);
	/* one header + 8 is the least that holds a frame; 31 rounds down to 24 */
	errno = 0;
	assert_null(flight_ring__new(&o));
	assert_int_equal(errno, EINVAL);
	o.sz = sizeof(size_t);
	o.max_bytes = 1 << 20;
	errno = 0;
	assert_null(flight_ring__new(&o));
	assert_int_equal(errno, EINVAL);
	flight_ring__free(NULL);
}

static void test_footprint(void **state)
{
	(void)state;
	assert_int_equal(flight_ring__footprint(0), 24);
	assert_int_equal(flight_ring__footprint(1), 32);
	assert_int_equal(flight_ring__footprint(8), 32);
	assert_int_equal(flight_ring__footprint(9), 40);
}

/* Exact eviction order in a 128-byte ring. */
static void test_eviction_order(void **state)
{
	struct flight_ring *r = ring(131, 0);	/* rounds down to 128 */
	struct flight_ring_stats st;
	struct seen s = {};

	(void)state;
	flight_ring__stats(r, &st);
	assert_int_equal(st.capacity, 128);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.oldest_ts, 0);
	assert_int_equal(st.newest_ts, 0);

	push_n(r, 1, 40);	/* 64 */
	push_n(r, 2, 8);	/* 32 */
	push_n(r, 3, 1);	/* 32: exactly full */
	flight_ring__stats(r, &st);
	assert_int_equal(st.used_bytes, 128);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.frame_bytes, 49);
	assert_int_equal(st.evicted_size_frames, 0);
	assert_int_equal(st.oldest_ts, 10);
	assert_int_equal(st.newest_ts, 35);

	push_n(r, 4, 0);	/* 24: evicts 1 */
	flight_ring__stats(r, &st);
	assert_int_equal(st.used_bytes, 88);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.evicted_size_frames, 1);
	assert_int_equal(st.evicted_size_bytes, 40);
	assert_int_equal(st.oldest_ts, 20);
	assert_int_equal(st.newest_ts, 45);

	push_n(r, 5, 30);	/* 56: 40 free, evicts 2 (32) and no more */
	flight_ring__stats(r, &st);
	assert_int_equal(st.used_bytes, 112);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.evicted_size_frames, 2);
	assert_int_equal(st.evicted_size_bytes, 48);
	assert_int_equal(st.peak_used_bytes, 128);
	assert_int_equal(st.pushed_frames, 5);
	assert_int_equal(st.pushed_bytes, 79);

	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, 3);
	check_frame(&s, 0, 3, 1);
	check_frame(&s, 1, 4, 0);
	check_frame(&s, 2, 5, 30);
	seen_reset(&s);
	flight_ring__free(r);
}

/* The frames held are frames first..i of lens, for the newest that fit in cap. */
static void check_newest(struct flight_ring *r, const size_t *lens, size_t i, uint64_t cap)
{
	struct seen s = {};
	uint64_t total = 0;
	size_t first;

	for (first = i + 1; first > 0; first--) {
		if (total + flight_ring__footprint(lens[first - 1]) > cap)
			break;
		total += flight_ring__footprint(lens[first - 1]);
	}
	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, i + 1 - first);
	for (size_t k = first; k <= i; k++)
		check_frame(&s, k - first, k, lens[k]);
	seen_reset(&s);
}

/*
 * Odd sizes in a 200-byte ring: headers and payloads cut by the end of the
 * buffer come back whole.  Ring a is iterated after every push, so it is
 * linearized whenever it wraps; ring b only every fifth push, so its
 * oldest frame reaches the end of the buffer in place, a header cut in
 * two included (frame 10's, at 192).
 */
static void test_wrap_odd_sizes(void **state)
{
	static const size_t lens[] = { 13, 1, 29, 7, 50, 3, 17, 61, 5, 0, 11, 33, 2, 9, 44, 23, 176 };
	struct flight_ring *a = ring(200, 0), *b = ring(200, 0);
	size_t n = sizeof(lens) / sizeof(lens[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		push_n(a, i, lens[i]);
		check_newest(a, lens, i, 200);
	}
	for (size_t i = 0; i < n; i++) {
		push_n(b, i, lens[i]);
		if (i % 5 == 4 || i == n - 1)
			check_newest(b, lens, i, 200);
	}
	/* the last frame (24 + 176) fills the ring alone */
	check_newest(a, lens, n - 1, 200);
	flight_ring__free(a);
	flight_ring__free(b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * A long random sequence: after every push the bytes held never exceed
 * max_bytes, and the frames held are exactly the newest whose footprints
 * fit, byte for byte.
 */
static void test_bound_randomized(void **state)
{
	enum { N = 20000, MAX = 1003, CAP = 1000 };
	size_t *lens = calloc(N, sizeof(*lens));
	struct flight_ring *r = ring(MAX, 0);
	struct flight_ring_stats st, after;
	uint64_t evicted = 0, evicted_bytes = 0, oldest = 0, pushed_bytes = 0, used = 0;
	struct seen s = {};
	uint8_t buf[1024];

	(void)state;
	assert_non_null(lens);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t x = rnd();
		size_t len;

		switch (x % 16) {
		case 0:
			len = CAP - 24;			/* fills the ring alone */
			break;
		case 1:
			len = CAP - 24 + 1 + x % 20;	/* can never fit */
			break;
		case 2:
			len = 0;
			break;
		default:
			len = (x >> 8) % 300;
		}
		fill(buf, len, i);
		if (flight_ring__footprint(len) > CAP) {
			flight_ring__stats(r, &st);
			assert_int_equal(flight_ring__push(r, buf, len, i * 10, i * 10 + 5), -E2BIG);
			lens[i] = SIZE_MAX;	/* never held */
			flight_ring__stats(r, &after);
			assert_memory_equal(&st, &after, sizeof(st));
			continue;
		}
		assert_int_equal(flight_ring__push(r, buf, len, i * 10, i * 10 + 5), 0);
		lens[i] = len;
		pushed_bytes += len;
		used += flight_ring__footprint(len);
		/* the model: drop the oldest until the footprints fit */
		while (used > CAP) {
			if (lens[oldest] != SIZE_MAX) {
				used -= flight_ring__footprint(lens[oldest]);
				evicted++;
				evicted_bytes += lens[oldest];
			}
			oldest++;
		}
		while (lens[oldest] == SIZE_MAX)
			oldest++;

		flight_ring__stats(r, &st);
		assert_true(st.used_bytes <= MAX);
		assert_true(st.peak_used_bytes <= CAP);
		assert_int_equal(st.used_bytes, used);
		assert_int_equal(st.evicted_size_frames, evicted);
		assert_int_equal(st.evicted_size_bytes, evicted_bytes);
		assert_int_equal(st.pushed_bytes, pushed_bytes);
		assert_int_equal(st.frame_bytes + st.evicted_size_bytes, st.pushed_bytes);
		assert_int_equal(st.oldest_ts, oldest * 10);
		assert_int_equal(st.newest_ts, i * 10 + 5);

		/* maximal: the next older frame would not have fitted */
		for (uint64_t k = oldest; k-- > 0;) {
			if (lens[k] == SIZE_MAX)
				continue;
			assert_true(used + flight_ring__footprint(lens[k]) > CAP);
			break;
		}

		/*
		 * Not after every push: for_each linearizes a wrapped ring, and
		 * the oldest frame must also reach the end of the buffer in place.
		 */
		if (x % 13 && i != N - 1)
			continue;
		assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
		assert_int_equal(s.n, st.frames);
		for (uint64_t k = oldest, at = 0; k <= i; k++) {
			if (lens[k] == SIZE_MAX)
				continue;
			check_frame(&s, at++, k, lens[k]);
		}
		seen_reset(&s);
	}
	free(lens);
	flight_ring__free(r);
}

static void test_age_expiry(void **state)
{
	struct flight_ring *r = ring(4096, 100);
	struct flight_ring_stats st;
	struct seen s = {};

	(void)state;
	assert_int_equal(flight_ring__push(r, "a", 1, 0, 10), 0);
	assert_int_equal(flight_ring__push(r, "bb", 2, 10, 20), 0);
	assert_int_equal(flight_ring__push(r, "ccc", 3, 20, 150), 0);
	/* out of order: stays behind the younger frame before it */
	assert_int_equal(flight_ring__push(r, "dddd", 4, 30, 40), 0);

	flight_ring__expire(r, 99);	/* now < max_age: nothing is old enough */
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 4);

	flight_ring__expire(r, 110);	/* cutoff 10: last_ts 10 is not older */
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 4);

	flight_ring__expire(r, 115);	/* cutoff 15 */
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.evicted_age_frames, 1);
	assert_int_equal(st.evicted_age_bytes, 1);
	assert_int_equal(st.evicted_size_frames, 0);
	assert_int_equal(st.oldest_ts, 10);
	assert_int_equal(st.newest_ts, 40);

	flight_ring__expire(r, 200);	/* cutoff 100: "bb" goes, "ccc" stops the scan */
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.evicted_age_frames, 2);
	assert_int_equal(st.evicted_age_bytes, 3);
	assert_int_equal(st.oldest_ts, 20);
	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.data[0], "ccc", 3);
	assert_memory_equal(s.data[1], "dddd", 4);
	seen_reset(&s);

	flight_ring__expire(r, 1000);
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.frame_bytes, 0);
	assert_int_equal(st.evicted_age_frames, 4);
	assert_int_equal(st.evicted_age_bytes, 10);
	assert_int_equal(st.oldest_ts, 0);
	assert_int_equal(st.newest_ts, 0);
	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, 0);
	flight_ring__free(r);

	/* no age limit: nothing ever expires */
	r = ring(4096, 0);
	assert_int_equal(flight_ring__push(r, "a", 1, 0, 10), 0);
	flight_ring__expire(r, UINT64_MAX);
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 1);
	flight_ring__free(r);
}

static void test_e2big_and_bad_push(void **state)
{
	static uint8_t big[300];
	struct flight_ring *r = ring(256, 0);
	struct flight_ring_stats st;
	struct seen s = {};

	(void)state;
	push_n(r, 1, 10);
	assert_int_equal(flight_ring__push(r, big, 233, 0, 0), -E2BIG);	/* 24 + 240 */
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.pushed_frames, 1);
	if (sizeof(size_t) > 4)
		assert_int_equal(flight_ring__push(r, big, (size_t)UINT32_MAX + 1, 0, 0), -E2BIG);
	assert_int_equal(flight_ring__push(r, big, 1, 6, 5), -EINVAL);
	assert_int_equal(flight_ring__push(r, NULL, 1, 0, 0), -EINVAL);
	/* 24 + 232 = 256: fits, evicting everything else */
	memset(big, 0xab, sizeof(big));
	assert_int_equal(flight_ring__push(r, big, 232, 1, 2), 0);
	flight_ring__stats(r, &st);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.used_bytes, 256);
	assert_int_equal(st.evicted_size_frames, 1);
	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.len[0], 232);
	assert_memory_equal(s.data[0], big, 232);
	seen_reset(&s);
	flight_ring__free(r);
}

static void test_for_each_stops(void **state)
{
	struct flight_ring *r = ring(1024, 0);
	struct seen s = {};

	(void)state;
	for (int i = 0; i < 5; i++)
		push_n(r, i, 3);
	s.stop_at = 2;
	assert_int_equal(flight_ring__for_each(r, collect, &s), 7);
	assert_int_equal(s.n, 2);
	seen_reset(&s);
	assert_int_equal(flight_ring__for_each(r, NULL, NULL), -EINVAL);
	/* pushing from inside fn is refused: fn holds pointers into the buffer */
	s.r = r;
	assert_int_equal(flight_ring__for_each(r, collect, &s), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.push_err, -EBUSY);
	seen_reset(&s);
	push_n(r, 9, 3);	/* and allowed again after */
	flight_ring__free(r);
}

static void test_spec_good(void **state)
{
	static const struct {
		const char *spec;
		uint64_t age, bytes;
	} good[] = {
		{ "60s,256MiB", 60000000000ull, 256ull << 20 },
		{ "256MiB", 0, 256ull << 20 },
		{ "30s", 30000000000ull, FLIGHT_RING_DEFAULT_BYTES },
		{ "2m,64M", 120000000000ull, 64ull << 20 },
		{ "64M,2m", 120000000000ull, 64ull << 20 },
		{ "1h,1G", 3600000000000ull, 1ull << 30 },
		{ "500ms,1.5GiB", 500000000ull, 3ull << 29 },
		{ "1MiB", 0, 1ull << 20 },
		{ "1024K", 0, 1ull << 20 },
		{ "1024G", 0, 1ull << 40 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t age = 1, bytes = 1;
		char err[256] = "";

		assert_int_equal(flight_ring__parse_spec(good[i].spec, &age, &bytes, err, sizeof(err)), 0);
		assert_int_equal(age, good[i].age);
		assert_int_equal(bytes, good[i].bytes);
		assert_string_equal(err, "");
	}
}

static void test_spec_bad(void **state)
{
	static const struct {
		const char *spec;
		const char *err;
	} bad[] = {
		{ "", "empty --flight-recorder: expected DURATION,SIZE such as 60s,256MiB" },
		{ "60", "invalid --flight-recorder '60': '60' needs a unit: durations take s, ms, m or h (30s, 2m); sizes K, KiB, M, MiB, G or GiB (256MiB, 64M)" },
		{ "60s,64m", "invalid --flight-recorder '60s,64m': two durations ('64m' is a duration; sizes take K, M or G, e.g. 64M)" },
		{ "256MiB,1G", "invalid --flight-recorder '256MiB,1G': two sizes; expected DURATION,SIZE such as 60s,256MiB" },
		{ "60s,256MB", "invalid --flight-recorder '60s,256MB': '256MB' is neither a duration nor a size: durations take s, ms, m or h (30s, 2m); sizes K, KiB, M, MiB, G or GiB (256MiB, 64M)" },
		{ "1K", "invalid --flight-recorder '1K': the size must be from 1MiB to 1024GiB" },
		{ "2048G", "invalid --flight-recorder '2048G': the size must be from 1MiB to 1024GiB" },
		{ "0s,1G", "invalid --flight-recorder '0s,1G': the duration must be positive" },
		{ "60s,", "invalid --flight-recorder '60s,': an empty part; expected DURATION,SIZE such as 60s,256MiB" },
		{ ",1G", "invalid --flight-recorder ',1G': an empty part; expected DURATION,SIZE such as 60s,256MiB" },
		{ "60s,1G,1G", "invalid --flight-recorder '60s,1G,1G': expected DURATION,SIZE such as 60s,256MiB" },
		{ "-1s", "invalid --flight-recorder '-1s': '-1s' is neither a duration nor a size: durations take s, ms, m or h (30s, 2m); sizes K, KiB, M, MiB, G or GiB (256MiB, 64M)" },
		{ "inf,1G", "invalid --flight-recorder 'inf,1G': 'inf' is neither a duration nor a size: durations take s, ms, m or h (30s, 2m); sizes K, KiB, M, MiB, G or GiB (256MiB, 64M)" },
	};
	uint64_t age = 1, bytes = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		assert_int_equal(flight_ring__parse_spec(bad[i].spec, &age, &bytes, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(age, 1);	/* untouched */
		assert_int_equal(bytes, 1);
	}
	assert_int_equal(flight_ring__parse_spec(NULL, &age, &bytes, NULL, 0), -EINVAL);
	assert_int_equal(flight_ring__parse_spec("1234567890123456789012345678901234567890123456789012345678901234567890s",
						 &age, &bytes, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad),
		cmocka_unit_test(test_footprint),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_wrap_odd_sizes),
		cmocka_unit_test(test_bound_randomized),
		cmocka_unit_test(test_age_expiry),
		cmocka_unit_test(test_e2big_and_bad_push),
		cmocka_unit_test(test_for_each_stops),
		cmocka_unit_test(test_spec_good),
		cmocka_unit_test(test_spec_bad),
	};

	return cmocka_run_group_tests_name("flight_ring", tests, NULL, NULL);
}
