// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer records, untrusted, through every decoder: the correlator,
 * the timeline and the recording writer; then what `record` does at the
 * end (finish, the table, the JSON report) and what `convert` does (the
 * Perfetto and Chrome exporters).  The writer's output is read back: every
 * record it accepted must come out of the reader as it went in.
 *
 * Input: a sequence of entries, each two control bytes and a payload:
 *
 *   [size] [flags] [size bytes]
 *
 * flags bit 7 clear: the payload is a record of that size (the ring
 * buffer's size, which need not match the header's); bit 0 set: the
 * header's size field is made to match, so that mutations reach past the
 * size check.  flags bit 7 set: a metadata call instead, [size] % 4 picks
 * which, the payload (24 bytes: pid, u32, u64, u64) its arguments.  A
 * short last entry is fed as it is.
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
#include "rec_writer.h"
#include "timeline.h"

#define F_FIX_SIZE	0x01
#define F_META		0x80
#define META_LEN	24
#define MAX_RECS	4096	/* records checked in the round trip */

struct membuf {
	uint8_t *data;
	size_t len;
};

/* What went into the writer, normalised as the reader gives it back. */
struct sent {
	union as_record rec[MAX_RECS];
	size_t size[MAX_RECS];
	size_t n;
};

static struct sent sent;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* A poll still running at the end, as the BPF per-thread map shows it. */
static int in_progress(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t id,
		       uint32_t type_idx, uint64_t start_ns)
{
	struct as_poll_frame f = { .task_id = id, .type_idx = type_idx, .start_ns = start_ns };

	return correlator__poll_in_progress(c, pid, tid, &f);
}

static int mem_emit(void *ctx, enum rec_frame_kind kind, const uint8_t *frame, size_t len,
		    uint64_t first, uint64_t last)
{
	struct membuf *m = ctx;
	uint8_t *d;

	(void)kind;
	FUZZ_CHECK(first <= last);
	d = realloc(m->data, m->len + len);
	if (!d)
		return -ENOMEM;
	memcpy(d + m->len, frame, len);
	m->data = d;
	m->len += len;
	return 0;
}

static void meta(struct correlator *c, struct timeline *tl, unsigned int op, const uint8_t *p)
{
	uint32_t pid = fuzz_le32(p), u = fuzz_le32(p + 4);
	uint64_t a = fuzz_le64(p + 8), b = fuzz_le64(p + 16);
	char name[24];

	snprintf(name, sizeof(name), "t%u", u % 5);
	switch (op % 4) {
	case 0:
		correlator__set_type(c, pid, u, a & 1 ? NULL : name, (uint32_t)(b % 3));
		timeline__set_type(tl, pid, u, a & 1 ? NULL : name, (uint32_t)(b % 3));
		break;
	case 1:
		correlator__set_first_id(c, pid, a);
		timeline__set_first_id(tl, pid, a);
		break;
	case 2:
		in_progress(c, pid, u, a, (uint32_t)(b >> 32), b & 0xffffffff);
		timeline__poll_in_progress(tl, pid, u, a, (uint32_t)(b >> 32), b & 0xffffffff);
		break;
	case 3:
		correlator__set_process(c, pid, name);
		timeline__set_process(tl, pid, name);
		timeline__set_thread(tl, pid, u, b & 1 ? NULL : name);
		break;
	}
}

/* The record as the reader returns it: converted to an Event and back. */
static void remember(const void *rec, size_t size)
{
	Asyncscope__Event ev = ASYNCSCOPE__EVENT__INIT;

	if (sent.n >= MAX_RECS || rec_event__from_record(rec, size, &ev))
		return;
	FUZZ_CHECK(!rec_event__to_record(&ev, &sent.rec[sent.n], &sent.size[sent.n]));
	sent.n++;
}

/* The writer's frames behind the magic, read back: the same records, in order. */
static void read_back(const struct membuf *m, uint64_t accepted)
{
	struct rec_reader *rd = rec_reader__open_mem(m->data, m->len);
	struct rec_item it;
	size_t i = 0;
	int n;

	FUZZ_CHECK(rd);
	while ((n = rec_reader__next(rd, &it)) > 0) {
		if (it.kind != REC_ITEM_EVENT || i >= sent.n) {
			i += it.kind == REC_ITEM_EVENT;
			continue;
		}
		FUZZ_CHECK(it.record_size == sent.size[i]);
		FUZZ_CHECK(!memcmp(it.record, &sent.rec[i], it.record_size));
		i++;
	}
	FUZZ_CHECK(n == 0);
	FUZZ_CHECK(rec_reader__stats(rd)->events == accepted);
	FUZZ_CHECK(rec_reader__stats(rd)->bad_events == 0);
	rec_reader__free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct membuf m = { 0 };
	struct rec_writer_opts wo = {
		.sz = sizeof(wo), .emit = mem_emit, .ctx = &m, .chunk_events = 1 + size % 9,
	};
	Asyncscope__TraceHeader hdr = ASYNCSCOPE__TRACE_HEADER__INIT;
	Asyncscope__Trailer trailer = ASYNCSCOPE__TRAILER__INIT;
	struct correlator_opts co = { .sz = sizeof(co), .max_tasks = size % 5 == 0 ? 4 : 0 };
	struct report_meta rm = { 0 };
	struct correlator *c = correlator__new(&co);
	struct timeline *tl = timeline__new();
	struct rec_writer *w = rec_writer__new(&wo);
	const uint8_t *p = data, *end = data + size;
	union as_record buf[2];	/* aligned, as a ring-buffer record is */
	int werr = 0;

	FUZZ_CHECK(c && tl && w);
	sent.n = 0;
	m.data = malloc(REC_MAGIC_LEN);
	FUZZ_CHECK(m.data);
	memcpy(m.data, REC_MAGIC, REC_MAGIC_LEN);
	m.len = REC_MAGIC_LEN;
	hdr.format_version = REC_FORMAT_VERSION;
	FUZZ_CHECK(!rec_writer__header(w, &hdr));

	while (end - p >= 2) {
		size_t len = p[0];
		unsigned int flags = p[1];

		p += 2;
		if (flags & F_META) {
			if (end - p < META_LEN)
				break;
			meta(c, tl, len, p);
			p += META_LEN;
			continue;
		}
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, p, len);
		p += len;
		if ((flags & F_FIX_SIZE) && len >= sizeof(struct as_event_hdr))
			buf[0].h.size = (__u16)len;
		correlator__feed(c, buf, len);
		timeline__feed(tl, buf, len);
		if (!werr) {
			werr = rec_writer__add(w, buf, len);
			if (!werr)
				remember(buf, len);
			else if (werr == -EINVAL)
				werr = 0;	/* malformed: counted and skipped */
		}
	}
	if (!werr)
		werr = rec_writer__trailer(w, &trailer);
	FUZZ_CHECK(!werr);
	read_back(&m, rec_writer__stats(w)->events);

	correlator__finish(c, correlator__max_ts(c));
	rm.pid = 1;
	out_table__print(fuzz_null, c, &rm);
	out_json__print(fuzz_null, c, &rm);
	if (!timeline__finish(tl, size % 3 ? 0 : correlator__max_ts(c) / 2)) {
		check_timeline(tl);
		out_perfetto__write(fuzz_null, tl);
		out_chrome__write(fuzz_null, tl);
	}

	rec_writer__free(w);
	timeline__free(tl);
	correlator__free(c);
	free(m.data);
	return 0;
}
