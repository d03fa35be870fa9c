// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A recording back into a correlator, the way record fed it live. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "correlator.h"
#include "io_stats.h"
#include "replay.h"
#include "timeline.h"

void replay__free(struct replay *r)
{
	if (!r)
		return;
	io_stats__free(r->io);
	correlator__free(r->corr);
	free(r->exe);
	free(r->tokio_version);
	free(r);
}

static int on_header(struct replay *r, const Asyncscope__TraceHeader *h)
{
	r->window = h->flight_recorder;
	r->meta.start_ns = h->start_ns;
	return 0;
}

static int on_process(struct replay *r, const Asyncscope__ProcessInfo *p)
{
	int err;

	/* the first process is the one the report is about */
	if (!r->meta.pid) {
		r->meta.pid = p->pid;
		free(r->exe);
		free(r->tokio_version);
		r->exe = p->exe && *p->exe ? strdup(p->exe) : NULL;
		r->tokio_version = p->tokio_version && *p->tokio_version ? strdup(p->tokio_version) : NULL;
		r->meta.exe = r->exe;
		r->meta.tokio_version = r->tokio_version;
		if (p->attach_ns)
			r->meta.start_ns = p->attach_ns;
	}
	err = correlator__set_process(r->corr, p->pid, p->comm);
	for (size_t i = 0; !err && i < p->n_types; i++) {
		const Asyncscope__TaskType *t = p->types[i];

		err = correlator__set_type(r->corr, p->pid, t->index,
					   t->future_type && *t->future_type ? t->future_type : NULL,
					   report__kind_of_scheduler(t->scheduler));
	}
	if (!err && p->first_task_id)
		err = correlator__set_first_id(r->corr, p->pid, p->first_task_id);
	return err == -ENOMEM ? err : 0;
}

static void on_trailer(struct replay *r, const Asyncscope__Trailer *t)
{
	r->complete = 1;
	r->meta.end_ns = t->end_ns;
	r->meta.received = t->received;
	r->meta.target_exited = t->target_exited;
	r->window_start_ns = t->window_start_ns;
	r->evicted_chunks = t->evicted_chunks;
	r->trailer_chunks = t->chunks;
	for (size_t i = 0; i < t->n_in_progress; i++) {
		const Asyncscope__PollInProgress *p = t->in_progress[i];
		struct as_poll_frame f = {
			.task_id = p->task_id,
			.start_ns = p->start_ns,
			.type_idx = p->type_idx,
			.waker_clones = p->waker_clones,
			.waker_drops = p->waker_drops,
		};

		correlator__poll_in_progress(r->corr, p->pid, p->tid, &f);
	}
	/* a window's kernel totals are since attach, not the window's: not compared */
	if (t->kernel && !r->window) {
		rec_counters__from_proto(t->kernel, r->counters);
		r->meta.counters = r->counters;
	}
}

int replay__reader(struct rec_reader *rd, const struct replay_opts *opts, struct replay **out,
		   char *errbuf, size_t errlen)
{
	struct correlator_opts copts = { .sz = sizeof(copts) };
	struct io_stats_opts iopts = { .sz = sizeof(iopts) };
	struct replay *r;
	struct rec_item it;
	uint64_t events = 0;
	int n, err = 0;

	*out = NULL;
	if (errlen)
		errbuf[0] = 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (opts) {
		copts.max_tasks = opts->max_tasks;
		iopts.max_tasks = opts->max_tasks;
	}
	r->corr = correlator__new(&copts);
	if (!r->corr) {
		err = -errno;
		goto fail;
	}
	iopts.corr = r->corr;
	r->io = io_stats__new(&iopts);
	if (!r->io) {
		err = -errno;
		goto fail;
	}
	r->meta.io = r->io;
	while ((n = rec_reader__next(rd, &it)) > 0) {
		switch (it.kind) {
		case REC_ITEM_HEADER:
			err = on_header(r, it.header);
			break;
		case REC_ITEM_PROCESS:
			err = on_process(r, it.process);
			break;
		case REC_ITEM_EVENT:
			events++;
			err = correlator__feed(r->corr, it.record, it.record_size);
			if (err != -ENOMEM)
				err = io_stats__feed(r->io, it.record, it.record_size);
			err = err == -ENOMEM ? err : 0;
			break;
		case REC_ITEM_TRAILER:
			on_trailer(r, it.trailer);
			break;
		default:
			break;
		}
		if (!err && opts && opts->on_item)
			err = opts->on_item(opts->ctx, &it);
		if (err)
			goto fail;
	}
	r->stats = *rec_reader__stats(rd);
	if (n < 0) {
		/* nothing at all to report: not a recording, or no header */
		if (!r->stats.frames || !r->meta.pid) {
			snprintf(errbuf, errlen, "%s", rec_reader__error(rd));
			err = n;
			goto fail;
		}
		r->damage = n;
		snprintf(r->msg, sizeof(r->msg), "%s", rec_reader__error(rd));
	}
	if (r->window)
		r->meta.start_ns = r->window_start_ns;
	/* a window holds only part of what was received since attach */
	if (!r->complete || r->window)
		r->meta.received = events;
	correlator__finish(r->corr, r->meta.end_ns ? r->meta.end_ns : correlator__max_ts(r->corr));
	*out = r;
	return r->damage;
fail:
	if (err && errlen && !*errbuf)
		snprintf(errbuf, errlen, "cannot replay the recording: %s", strerror(-err));
	replay__free(r);
	return err;
}

int replay__file(const char *path, const struct replay_opts *opts, struct replay **out,
		 char *errbuf, size_t errlen)
{
	struct rec_reader *rd;
	int err;

	*out = NULL;
	errbuf[0] = 0;
	rd = rec_reader__open(path);
	if (!rd) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot open the recording '%s': %s", path, strerror(-err));
		return err;
	}
	err = replay__reader(rd, opts, out, errbuf, errlen);
	rec_reader__free(rd);
	return err;
}

/* What the report alone does not say: a window, a gap, damage. */
void replay__print_notes(const struct replay *r, FILE *out)
{
	if (r->window)
		fprintf(out, "asyncscope: a flight-recorder window: %.3f s kept, %llu earlier chunks had left it; kernel totals are since attach and not compared\n",
			r->meta.end_ns > r->window_start_ns ?
				(double)(r->meta.end_ns - r->window_start_ns) / 1e9 : 0.0,
			(unsigned long long)r->evicted_chunks);
	if (r->stats.bad_events)
		fprintf(out, "asyncscope: %llu events in the recording were not valid records and were skipped\n",
			(unsigned long long)r->stats.bad_events);
	if (r->complete && r->trailer_chunks != r->stats.chunks)
		fprintf(out, "asyncscope: the trailer counts %llu chunks but %llu were read: the recording lost some\n",
			(unsigned long long)r->trailer_chunks, (unsigned long long)r->stats.chunks);
	else if (r->stats.missing_chunks)
		fprintf(out, "asyncscope: %llu chunks are missing from the recording\n",
			(unsigned long long)r->stats.missing_chunks);
	if (r->damage)
		fprintf(out, "asyncscope: %s; reported %llu events before it\n", r->msg,
			(unsigned long long)r->stats.events);
}

int replay__timeline_item(void *ctx, const struct rec_item *it)
{
	struct timeline *tl = ctx;
	int err = 0;

	switch (it->kind) {
	case REC_ITEM_HEADER:
		timeline__set_realtime_offset(tl, it->header->realtime_offset_ns);
		break;
	case REC_ITEM_PROCESS: {
		const Asyncscope__ProcessInfo *p = it->process;

		err = timeline__set_process(tl, p->pid, p->comm);
		for (size_t i = 0; !err && i < p->n_types; i++) {
			const Asyncscope__TaskType *t = p->types[i];

			err = timeline__set_type(tl, p->pid, t->index,
						 t->future_type && *t->future_type ? t->future_type : NULL,
						 report__kind_of_scheduler(t->scheduler));
		}
		if (!err && p->first_task_id)
			err = timeline__set_first_id(tl, p->pid, p->first_task_id);
		break;
	}
	case REC_ITEM_THREAD:
		err = timeline__set_thread(tl, it->thread->pid, it->thread->tid, it->thread->name);
		break;
	case REC_ITEM_EVENT:
		err = timeline__feed(tl, it->record, it->record_size);
		break;
	case REC_ITEM_TRAILER:
		for (size_t i = 0; !err && i < it->trailer->n_in_progress; i++) {
			const Asyncscope__PollInProgress *p = it->trailer->in_progress[i];

			err = timeline__poll_in_progress(tl, p->pid, p->tid, p->task_id, p->type_idx,
							 p->start_ns);
		}
		break;
	}
	return err;
}
