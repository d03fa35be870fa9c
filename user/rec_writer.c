// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Records -> Chunk frames -> an emit callback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "array.h"
#include "idx_map.h"
#include "rec_writer.h"

#define DEFAULT_CHUNK_EVENTS	4096
#define THREAD_NAME_MAX		64

struct thread_key {
	uint32_t pid;
	uint32_t tid;
};

struct rec_writer {
	struct rec_writer_opts o;
	struct rec_writer_stats stats;

	union as_record *recs;		/* the chunk in progress */
	size_t nr_recs;
	size_t cap_recs;
	Asyncscope__Event *events;	/* scratch for packing, cap_recs long */
	Asyncscope__Event **event_ptrs;
	size_t cap_events;

	struct thread_key *threads;	/* threads already named */
	size_t nr_threads;
	size_t cap_threads;
	struct idx_map thread_idx;
};

struct rec_writer *rec_writer__new(const struct rec_writer_opts *opts)
{
	struct rec_writer *w;

	if (!opts || opts->sz < sizeof(*opts) || !opts->emit) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->o = *opts;
	if (!w->o.chunk_events)
		w->o.chunk_events = DEFAULT_CHUNK_EVENTS;
	idx_map__init(&w->thread_idx);
	return w;
}

void rec_writer__free(struct rec_writer *w)
{
	if (!w)
		return;
	free(w->recs);
	free(w->events);
	free(w->event_ptrs);
	free(w->threads);
	idx_map__release(&w->thread_idx);
	free(w);
}

const struct rec_writer_stats *rec_writer__stats(const struct rec_writer *w)
{
	return &w->stats;
}

int rec_writer__emit_frame(struct rec_writer *w, enum rec_frame_kind kind, const Asyncscope__Frame *f)
{
	uint64_t first = 0, last = 0;
	uint8_t *buf;
	size_t len;
	int err;

	err = rec_frame__encode(f, &buf, &len);
	if (err)
		return err;
	if (kind == REC_FRAME_CHUNK) {
		first = f->chunk->first_ts_ns;
		last = f->chunk->last_ts_ns;
	}
	err = w->o.emit(w->o.ctx, kind, buf, len, first, last);
	free(buf);
	if (!err)
		w->stats.bytes += len;
	return err;
}

int rec_writer__header(struct rec_writer *w, const Asyncscope__TraceHeader *h)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;

	f.body_case = ASYNCSCOPE__FRAME__BODY_HEADER;
	f.header = (Asyncscope__TraceHeader *)h;
	return rec_writer__emit_frame(w, REC_FRAME_HEADER, &f);
}

int rec_writer__process(struct rec_writer *w, const Asyncscope__ProcessInfo *p)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;

	f.body_case = ASYNCSCOPE__FRAME__BODY_PROCESS;
	f.process = (Asyncscope__ProcessInfo *)p;
	return rec_writer__emit_frame(w, REC_FRAME_PROCESS, &f);
}

static int thread_match(const void *ctx, uint32_t idx, const void *key)
{
	const struct rec_writer *w = ctx;
	const struct thread_key *k = key;

	return w->threads[idx].pid == k->pid && w->threads[idx].tid == k->tid;
}

static uint64_t thread_hash(const struct thread_key *k)
{
	return idx_map__hash_u64((uint64_t)k->pid << 32 | k->tid);
}

/* 1 if the thread is new (now remembered), 0 if known, or -errno. */
static int thread_remember(struct rec_writer *w, uint32_t pid, uint32_t tid)
{
	struct thread_key k = { pid, tid };
	uint64_t hash = thread_hash(&k);
	int err;

	if (idx_map__find(&w->thread_idx, hash, thread_match, w, &k) >= 0)
		return 0;
	err = array__grow((void **)&w->threads, &w->cap_threads, w->nr_threads + 1,
			  sizeof(*w->threads));
	if (err)
		return err;
	err = idx_map__add(&w->thread_idx, hash, (uint32_t)w->nr_threads);
	if (err)
		return err;
	w->threads[w->nr_threads++] = k;
	return 1;
}

static int emit_thread(struct rec_writer *w, uint32_t pid, uint32_t tid, const char *name)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;
	Asyncscope__ThreadInfo t = ASYNCSCOPE__THREAD_INFO__INIT;

	t.pid = pid;
	t.tid = tid;
	t.name = (char *)(name ? name : "");
	f.body_case = ASYNCSCOPE__FRAME__BODY_THREAD;
	f.thread = &t;
	return rec_writer__emit_frame(w, REC_FRAME_THREAD, &f);
}

int rec_writer__thread(struct rec_writer *w, uint32_t pid, uint32_t tid, const char *name)
{
	int err = thread_remember(w, pid, tid);

	return err < 0 ? err : emit_thread(w, pid, tid, name);
}

int rec_writer__add(struct rec_writer *w, const void *rec, size_t size)
{
	Asyncscope__Event probe = ASYNCSCOPE__EVENT__INIT;
	union as_record *slot;
	int err;

	/* validate (and normalise a newer ABI's larger record to its known prefix) */
	if (rec_event__from_record(rec, size, &probe)) {
		w->stats.malformed++;
		return -EINVAL;
	}
	err = thread_remember(w, probe.pid, probe.tid);
	if (err < 0)
		return err;
	if (err) {
		char name[THREAD_NAME_MAX] = "";

		if (w->o.thread_name && w->o.thread_name(w->o.ctx, probe.pid, probe.tid, name, sizeof(name)))
			name[0] = 0;
		err = emit_thread(w, probe.pid, probe.tid, name);
		if (err)
			return err;
	}
	err = array__grow((void **)&w->recs, &w->cap_recs, w->nr_recs + 1, sizeof(*w->recs));
	if (err)
		return err;
	slot = &w->recs[w->nr_recs++];
	size = (size_t)as_event_min_size(probe.type);
	memcpy(slot, rec, size);
	slot->h.size = (__u16)size;
	if (w->nr_recs >= w->o.chunk_events)
		return rec_writer__flush(w);
	return 0;
}

int rec_writer__flush(struct rec_writer *w)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;
	Asyncscope__Chunk chunk = ASYNCSCOPE__CHUNK__INIT;
	uint64_t first = UINT64_MAX, last = 0;
	int err;

	if (!w->nr_recs)
		return 0;
	if (w->cap_events < w->nr_recs) {
		Asyncscope__Event *ev = realloc(w->events, w->nr_recs * sizeof(*ev));
		Asyncscope__Event **ptrs;

		if (!ev)
			return -ENOMEM;
		w->events = ev;
		ptrs = realloc(w->event_ptrs, w->nr_recs * sizeof(*ptrs));
		if (!ptrs)
			return -ENOMEM;
		w->event_ptrs = ptrs;
		w->cap_events = w->nr_recs;
	}
	for (size_t i = 0; i < w->nr_recs; i++) {
		Asyncscope__Event *ev = &w->events[i];

		asyncscope__event__init(ev);
		/* validated when added */
		rec_event__from_record(&w->recs[i], w->recs[i].h.size, ev);
		w->event_ptrs[i] = ev;
		if (ev->ts_ns < first)
			first = ev->ts_ns;
		if (ev->ts_ns > last)
			last = ev->ts_ns;
	}
	chunk.seq = w->stats.chunks;
	chunk.first_ts_ns = first;
	chunk.last_ts_ns = last;
	chunk.n_events = w->nr_recs;
	chunk.events = w->event_ptrs;
	f.body_case = ASYNCSCOPE__FRAME__BODY_CHUNK;
	f.chunk = &chunk;
	err = rec_writer__emit_frame(w, REC_FRAME_CHUNK, &f);
	if (err)
		return err;
	w->stats.chunks++;
	w->stats.events += w->nr_recs;
	w->nr_recs = 0;
	return 0;
}

int rec_writer__trailer(struct rec_writer *w, Asyncscope__Trailer *t)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;
	int err = rec_writer__flush(w);

	if (err)
		return err;
	t->chunks = w->stats.chunks;
	t->events = w->stats.events;
	f.body_case = ASYNCSCOPE__FRAME__BODY_TRAILER;
	f.trailer = t;
	return rec_writer__emit_frame(w, REC_FRAME_TRAILER, &f);
}

int rec_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
