// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The recording format: every record type through writer and reader
 * unchanged; a truncated file, a corrupted chunk, a missing trailer and
 * garbage each give an error naming the offset, with everything before
 * it still delivered; a replay equals feeding the correlator directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "correlator.h"
#include "rec_reader.h"
#include "rec_writer.h"
#include "replay.h"

#define PID	4242

/* The writer's frames, concatenated in memory after the magic. */
struct membuf {
	uint8_t *data;
	size_t len;
	size_t frame_off[64];	/* where each frame starts */
	enum rec_frame_kind kind[64];
	size_t nr_frames;
};

static int mem_emit(void *ctx, enum rec_frame_kind kind, const uint8_t *frame, size_t len,
		    uint64_t first, uint64_t last)
{
	struct membuf *m = ctx;

	(void)first;
	(void)last;
	m->data = realloc(m->data, m->len + len);
	assert_non_null(m->data);
	if (m->nr_frames < 64) {
		m->frame_off[m->nr_frames] = m->len;
		m->kind[m->nr_frames++] = kind;
	}
	memcpy(m->data + m->len, frame, len);
	m->len += len;
	return 0;
}

static int name_thread(void *ctx, uint32_t pid, uint32_t tid, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "worker-%u-%u", pid, tid);
	return 0;
}

static struct as_event_hdr hdr(unsigned int type, size_t size, uint32_t tid, uint64_t ts)
{
	return (struct as_event_hdr){
		.type = type, .size = size, .pid = PID, .tid = tid, .cpu = tid % 2, .ts_ns = ts,
	};
}

/* One record of every type, in an order the correlator accepts. */
static size_t make_records(union as_record *r)
{
	size_t n = 0;

	memset(r, 0, 8 * sizeof(*r));
	r[n].spawn = (struct as_ev_spawn){
		.h = hdr(AS_EV_SPAWN, sizeof(struct as_ev_spawn), 10, 1000),
		.task_id = 7, .parent_task_id = 0, .kind = AS_TASK_ASYNC, .type_idx = 2,
		.line = 231, .col = 21, .file_len = 10,
	};
	memcpy(r[n++].spawn.file, "src/lib.rs", 10);
	r[n++].waker = (struct as_ev_waker){
		.h = hdr(AS_EV_WAKER, sizeof(struct as_ev_waker), 11, 1500),
		.task_id = 7, .cur_task_id = 0, .op = AS_WAKE_BY_VAL, .type_idx = 2,
	};
	r[n++].task = (struct as_ev_task){
		.h = hdr(AS_EV_SCHEDULE, sizeof(struct as_ev_task), 11, 1600),
		.task_id = 7, .flags = 0, .type_idx = 2,
	};
	r[n++].poll = (struct as_ev_poll){
		.h = hdr(AS_EV_POLL, sizeof(struct as_ev_poll), 10, 3000),
		.task_id = 7, .start_ns = 2000, .type_idx = 2, .flags = 0,
		.waker_clones = 3, .waker_drops = 70000,
	};
	r[n++].waker = (struct as_ev_waker){
		.h = hdr(AS_EV_WAKER, sizeof(struct as_ev_waker), 10, 3500),
		.task_id = 7, .cur_task_id = 0, .op = AS_WAKER_CLONE, .type_idx = AS_TYPE_UNKNOWN,
	};
	r[n++].task = (struct as_ev_task){
		.h = hdr(AS_EV_COMPLETE, sizeof(struct as_ev_task), 10, 4500),
		.task_id = 7, .flags = AS_TASK_IN_POLL, .type_idx = 2,
	};
	r[n++].poll = (struct as_ev_poll){
		.h = hdr(AS_EV_POLL, sizeof(struct as_ev_poll), 10, 5000),
		.task_id = 7, .start_ns = 4000, .type_idx = 2, .flags = AS_POLL_READY | AS_POLL_NESTED,
	};
	r[n++].task = (struct as_ev_task){
		.h = hdr(AS_EV_SHUTDOWN, sizeof(struct as_ev_task), 12, 6000),
		.task_id = 9, .flags = 0, .type_idx = 1,
	};
	return n;
}

/* A whole recording of recs into m: header, process, chunks of chunk_events, trailer. */
static void write_recording(struct membuf *m, const union as_record *recs, size_t n,
			    size_t chunk_events, int trailer)
{
	struct rec_writer_opts o = {
		.sz = sizeof(o), .emit = mem_emit, .thread_name = name_thread, .ctx = m,
		.chunk_events = chunk_events,
	};
	Asyncscope__TraceHeader h = ASYNCSCOPE__TRACE_HEADER__INIT;
	Asyncscope__ProcessInfo p = ASYNCSCOPE__PROCESS_INFO__INIT;
	Asyncscope__TaskType t = ASYNCSCOPE__TASK_TYPE__INIT, *tp[1] = { &t };
	Asyncscope__Trailer tr = ASYNCSCOPE__TRAILER__INIT;
	Asyncscope__KernelCounters k = ASYNCSCOPE__KERNEL_COUNTERS__INIT;
	uint64_t counters[AS_CNT_NR] = {}, drops[AS_EV__MAX];
	struct rec_writer *w;

	memset(m, 0, sizeof(*m));
	mem_emit(m, REC_FRAME_HEADER, (const uint8_t *)REC_MAGIC, REC_MAGIC_LEN, 0, 0);
	m->nr_frames = 0;
	w = rec_writer__new(&o);
	assert_non_null(w);
	h.format_version = REC_FORMAT_VERSION;
	h.clock = "CLOCK_MONOTONIC";
	h.start_ns = 900;
	h.realtime_offset_ns = 1700000000000000000ll;
	assert_int_equal(rec_writer__header(w, &h), 0);
	t.index = 2;
	t.future_type = "app::handler::{{closure}}";
	t.scheduler = "multi_thread";
	p.pid = PID;
	p.comm = "app";
	p.exe = "/srv/app";
	p.tokio_version = "1.24.2";
	p.n_types = 1;
	p.types = tp;
	p.first_task_id = 5;
	p.attach_ns = 900;
	assert_int_equal(rec_writer__process(w, &p), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rec_writer__add(w, &recs[i], recs[i].h.size), 0);
	if (trailer) {
		counters[AS_CNT_POLL] = 2;
		counters[AS_CNT_DROPPED] = 3;
		counters[AS_CNT_DROP_BASE + AS_EV_WAKER] = 3;
		rec_counters__to_proto(counters, &k, drops);
		tr.end_ns = 7000;
		tr.received = n;
		tr.kernel = &k;
		assert_int_equal(rec_writer__trailer(w, &tr), 0);
		assert_int_equal(tr.events, n);
	} else {
		assert_int_equal(rec_writer__flush(w), 0);
	}
	assert_int_equal(rec_writer__stats(w)->events, n);
	rec_writer__free(w);
}

static void test_round_trip_every_type(void **state)
{
	union as_record recs[8];
	size_t n = make_records(recs), got = 0, threads = 0;
	int header = 0, process = 0, trailer = 0, rc;
	struct rec_reader *rd;
	struct rec_item it;
	struct membuf m;

	(void)state;
	/* chunks of 3: records cross chunk boundaries */
	write_recording(&m, recs, n, 3, 1);
	rd = rec_reader__open_mem(m.data, m.len);
	assert_non_null(rd);
	while ((rc = rec_reader__next(rd, &it)) > 0) {
		switch (it.kind) {
		case REC_ITEM_HEADER:
			assert_int_equal(header++ + process + threads + got, 0);
			assert_int_equal(it.header->start_ns, 900);
			assert_int_equal(it.header->realtime_offset_ns, 1700000000000000000ll);
			break;
		case REC_ITEM_PROCESS:
			process++;
			assert_int_equal(it.process->pid, PID);
			assert_string_equal(it.process->types[0]->future_type, "app::handler::{{closure}}");
			assert_int_equal(it.process->first_task_id, 5);
			break;
		case REC_ITEM_THREAD: {
			char want[64];

			snprintf(want, sizeof(want), "worker-%u-%u", it.thread->pid, it.thread->tid);
			assert_string_equal(it.thread->name, want);
			threads++;
			break;
		}
		case REC_ITEM_EVENT:
			assert_true(got < n);
			/* byte for byte what went in */
			assert_int_equal(it.record_size, recs[got].h.size);
			assert_memory_equal(it.record, &recs[got], it.record_size);
			got++;
			break;
		case REC_ITEM_TRAILER: {
			uint64_t c[AS_CNT_NR];

			trailer++;
			assert_int_equal(it.trailer->end_ns, 7000);
			assert_int_equal(it.trailer->chunks, 3);
			assert_int_equal(it.trailer->events, n);
			rec_counters__from_proto(it.trailer->kernel, c);
			assert_int_equal(c[AS_CNT_POLL], 2);
			assert_int_equal(c[AS_CNT_DROPPED], 3);
			assert_int_equal(c[AS_CNT_DROP_BASE + AS_EV_WAKER], 3);
			assert_int_equal(c[AS_CNT_DROP_BASE + AS_EV_POLL], 0);
			break;
		}
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(got, n);
	assert_int_equal(header, 1);
	assert_int_equal(process, 1);
	assert_int_equal(threads, 3);	/* tids 10, 11, 12, each named once */
	assert_int_equal(trailer, 1);
	assert_int_equal(rec_reader__stats(rd)->chunks, 3);
	assert_int_equal(rec_reader__stats(rd)->bad_events, 0);
	rec_reader__free(rd);
	free(m.data);
}

static void test_writer_refuses_malformed(void **state)
{
	struct membuf m = {};
	struct rec_writer_opts o = { .sz = sizeof(o), .emit = mem_emit, .ctx = &m };
	struct rec_writer *w = rec_writer__new(&o);
	union as_record r[8];

	(void)state;
	make_records(r);
	assert_non_null(w);
	r[0].h.size = 12;		/* size disagrees with the record */
	assert_int_equal(rec_writer__add(w, &r[0], sizeof(r[0].spawn)), -EINVAL);
	r[1].h.type = 99;		/* unknown type */
	assert_int_equal(rec_writer__add(w, &r[1], r[1].h.size), -EINVAL);
	r[2].spawn.file_len = 0;
	r[0].spawn.file_len = AS_LOC_FILE_MAX + 1;
	r[0].h.size = sizeof(r[0].spawn);
	assert_int_equal(rec_writer__add(w, &r[0], sizeof(r[0].spawn)), -EINVAL);
	assert_int_equal(rec_writer__add(w, &r[3], 10), -EINVAL);	/* short */
	assert_int_equal(rec_writer__stats(w)->malformed, 4);
	assert_int_equal(rec_writer__flush(w), 0);
	assert_int_equal(rec_writer__stats(w)->chunks, 0);	/* nothing valid: no chunk */
	rec_writer__free(w);
	free(m.data);
}

/* Read all of buf: events delivered, and the final return code. */
static int read_all(const uint8_t *buf, size_t len, size_t *events, char *msg, size_t msglen)
{
	struct rec_reader *rd = rec_reader__open_mem(buf, len);
	struct rec_item it;
	int rc;

	assert_non_null(rd);
	*events = 0;
	while ((rc = rec_reader__next(rd, &it)) > 0)
		*events += it.kind == REC_ITEM_EVENT;
	/* sticky: it keeps failing the same way */
	assert_int_equal(rec_reader__next(rd, &it), rc);
	snprintf(msg, msglen, "%s", rec_reader__error(rd));
	rec_reader__free(rd);
	return rc;
}

static void test_truncated_everywhere(void **state)
{
	union as_record recs[8];
	size_t n = make_records(recs), events;
	struct membuf m;
	char msg[320];

	(void)state;
	write_recording(&m, recs, n, 3, 1);
	/* cut at every length: never a crash, never an event past the cut, an offset named */
	for (size_t cut = 0; cut < m.len; cut++) {
		int rc = read_all(m.data, cut, &events, msg, sizeof(msg));

		assert_true(rc == -ENODATA || rc == -EBADMSG);
		assert_true(events <= n);
		assert_true(strlen(msg) > 0);
		if (cut >= REC_MAGIC_LEN && rc == -ENODATA && cut > m.frame_off[0] + 1)
			assert_non_null(strstr(msg, "byte"));
	}
	/* cut inside the third chunk: the first two chunks' events survive */
	{
		size_t chunks = 0, third = 0;
		char want[64];

		for (size_t i = 0; i < m.nr_frames; i++)
			if (m.kind[i] == REC_FRAME_CHUNK && ++chunks == 3)
				third = m.frame_off[i];
		assert_true(third > 0);
		assert_int_equal(read_all(m.data, third + 11, &events, msg, sizeof(msg)), -ENODATA);
		assert_int_equal(events, 6);
		snprintf(want, sizeof(want), "truncated at byte %zu:", third);
		assert_non_null(strstr(msg, want));
		/* cut exactly between frames: a missing trailer */
		assert_int_equal(read_all(m.data, third, &events, msg, sizeof(msg)), -ENODATA);
		assert_int_equal(events, 6);
		assert_non_null(strstr(msg, "without a trailer"));
	}
	free(m.data);
}

static void test_corrupted_chunk(void **state)
{
	union as_record recs[8];
	size_t n = make_records(recs), events, second = 0, chunks = 0;
	struct membuf m;
	char msg[320], want[64];

	(void)state;
	write_recording(&m, recs, n, 3, 1);
	for (size_t i = 0; i < m.nr_frames; i++)
		if (m.kind[i] == REC_FRAME_CHUNK && ++chunks == 2)
			second = m.frame_off[i];
	/* one flipped bit in the second chunk's payload */
	m.data[second + REC_FRAME_HDR_LEN + 5] ^= 0x10;
	assert_int_equal(read_all(m.data, m.len, &events, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(events, 3);
	snprintf(want, sizeof(want), "corrupted frame at byte %zu: checksum mismatch", second);
	assert_string_equal(msg, want);
	m.data[second + REC_FRAME_HDR_LEN + 5] ^= 0x10;

	/* an absurd length */
	m.data[second + 3] = 0x7f;
	assert_int_equal(read_all(m.data, m.len, &events, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(events, 3);
	assert_non_null(strstr(msg, "over the"));

	/*
	 * A length under the limit but past the end of the file: reported cut
	 * short before any buffer that size is allocated, from memory and from
	 * a regular file alike.
	 */
	m.data[second + 3] = 0x03;
	assert_int_equal(read_all(m.data, m.len, &events, msg, sizeof(msg)), -ENODATA);
	assert_int_equal(events, 3);
	snprintf(want, sizeof(want), "truncated at byte %zu: the frame there is cut short (%zu of ",
		 second, m.len - second - REC_FRAME_HDR_LEN);
	assert_non_null(strstr(msg, want));
	{
		char path[] = "/tmp/asyncscope-test-rec.XXXXXX";
		int fd = mkstemp(path);
		struct rec_reader *rd;
		struct rec_item it;
		int rc;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, m.data, m.len), (ssize_t)m.len);
		close(fd);
		size_t mapped = mallinfo2().hblkhd;

		rd = rec_reader__open(path);
		assert_non_null(rd);
		events = 0;
		while ((rc = rec_reader__next(rd, &it)) > 0)
			events += it.kind == REC_ITEM_EVENT;
		assert_int_equal(rc, -ENODATA);
		assert_int_equal(events, 3);
		assert_non_null(strstr(rec_reader__error(rd), want));
		/* no ~50 MiB frame buffer was mapped for it (glibc maps big blocks) */
		assert_true(mallinfo2().hblkhd < mapped + (1 << 20));
		rec_reader__free(rd);
		unlink(path);
	}
	free(m.data);
}

static void test_not_a_recording(void **state)
{
	static const uint8_t elf[] = "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0";
	static const uint8_t magic_only[] = REC_MAGIC;
	size_t events;
	char msg[320];

	(void)state;
	assert_int_equal(read_all(elf, sizeof(elf), &events, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "not an asyncscope recording"));
	assert_int_equal(read_all(elf, 0, &events, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(read_all(magic_only, REC_MAGIC_LEN, &events, msg, sizeof(msg)), -ENODATA);
	assert_non_null(strstr(msg, "no header"));
}

/* Replaying a recording gives the correlator exactly what feeding it live gave. */
static void test_replay_equals_live(void **state)
{
	struct correlator_opts co = { .sz = sizeof(co) };
	union as_record recs[8];
	size_t n = make_records(recs);
	struct correlator *live = correlator__new(&co);
	struct replay *rp = NULL;
	struct rec_reader *rd;
	struct membuf m;
	char err[320];

	(void)state;
	assert_non_null(live);
	correlator__set_type(live, PID, 2, "app::handler::{{closure}}", AS_TASK_ASYNC);
	correlator__set_first_id(live, PID, 5);
	for (size_t i = 0; i < n; i++)
		correlator__feed(live, &recs[i], recs[i].h.size);
	correlator__finish(live, 7000);

	write_recording(&m, recs, n, 4, 1);
	rd = rec_reader__open_mem(m.data, m.len);
	assert_int_equal(replay__reader(rd, NULL, &rp, err, sizeof(err)), 0);
	assert_non_null(rp);
	assert_true(rp->complete);
	assert_int_equal(rp->meta.pid, PID);
	assert_int_equal(rp->meta.end_ns, 7000);
	assert_int_equal(rp->meta.start_ns, 900);
	assert_int_equal(rp->meta.received, n);
	assert_non_null(rp->meta.counters);
	assert_int_equal(rp->meta.counters[AS_CNT_DROPPED], 3);
	assert_string_equal(rp->meta.tokio_version, "1.24.2");
	assert_int_equal(correlator__nr_tasks(rp->corr), correlator__nr_tasks(live));
	for (size_t i = 0; i < correlator__nr_tasks(live); i++) {
		const struct as_task *a = correlator__task(live, i), *b = correlator__task(rp->corr, i);

		assert_int_equal(a->id, b->id);
		assert_int_equal(a->flags, b->flags);
		assert_int_equal(a->polls, b->polls);
		assert_int_equal(a->busy_ns, b->busy_ns);
		assert_int_equal(a->sched_ns, b->sched_ns);
		assert_int_equal(a->closed_ns, b->closed_ns);
		assert_int_equal(a->waker_clones, b->waker_clones);
		assert_string_equal(a->location ? a->location : "-", b->location ? b->location : "-");
	}
	assert_memory_equal(correlator__stats(live), correlator__stats(rp->corr),
			    sizeof(struct correlator_stats));
	assert_string_equal(correlator__type_name(rp->corr, PID, 2), "app::handler::{{closure}}");
	replay__free(rp);
	rec_reader__free(rd);

	/* damaged after the first chunk: a partial replay, the damage named */
	rd = rec_reader__open_mem(m.data, m.len - 3);
	assert_int_equal(replay__reader(rd, NULL, &rp, err, sizeof(err)), -ENODATA);
	assert_non_null(rp);
	assert_false(rp->complete);
	assert_int_equal(rp->meta.received, n);	/* all events came before the trailer */
	assert_null(rp->meta.counters);
	assert_non_null(strstr(rp->msg, "truncated at byte"));
	replay__free(rp);
	rec_reader__free(rd);

	correlator__free(live);
	free(m.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_writer_refuses_malformed),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_corrupted_chunk),
		cmocka_unit_test(test_not_a_recording),
		cmocka_unit_test(test_replay_equals_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
