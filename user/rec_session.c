// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A recording in progress: to a file as it goes, or to the flight recorder's window. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "array.h"
#include "cli.h"
#include "flight_ring.h"
#include "log.h"
#include "rec_session.h"
#include "rec_writer.h"
#include "target.h"

#define DEFAULT_CHUNK_NS	(100ull * 1000 * 1000)

/* A frame kept outside the window: header, processes, threads. */
struct sticky {
	uint8_t *buf;
	size_t len;
};

struct rec_session {
	struct rec_session_opts o;
	struct rec_writer *w;
	uint32_t pid;
	uint64_t start_ns;
	uint64_t last_cut_ns;

	/* file mode */
	int fd;
	uint64_t written;	/* bytes of whole frames in the file */
	int werr;		/* first write error, sticky */

	/* window mode */
	struct flight_ring *ring;
	struct sticky *sticky;
	size_t nr_sticky;
	size_t cap_sticky;
	uint64_t dumps;
	uint64_t refused_chunks;	/* larger than the whole window */
	char last_dump[512];
};

bool rec_session__is_window(const struct rec_session *s)
{
	return s->ring != NULL;
}

const char *rec_session__path(const struct rec_session *s)
{
	return s->o.path;
}

static int file_emit(struct rec_session *s, const uint8_t *frame, size_t len)
{
	int err;

	if (s->werr)
		return s->werr;
	err = rec_write_all(s->fd, frame, len);
	if (err) {
		s->werr = err;
		/* cut a partial frame off: the file ends at its last whole frame */
		if (ftruncate(s->fd, (off_t)s->written) == 0)
			pr_warn("cannot write the recording '%s': %s; it stays readable up to byte %llu\n",
				s->o.path, strerror(-err), (unsigned long long)s->written);
		else
			pr_warn("cannot write the recording '%s': %s; it is readable up to byte %llu\n",
				s->o.path, strerror(-err), (unsigned long long)s->written);
		return err;
	}
	s->written += len;
	return 0;
}

static int window_emit(struct rec_session *s, enum rec_frame_kind kind, const uint8_t *frame,
		       size_t len, uint64_t first, uint64_t last)
{
	struct sticky *st;
	int err;

	if (kind == REC_FRAME_CHUNK) {
		err = flight_ring__push(s->ring, frame, len, first, last);
		if (err == -E2BIG) {
			s->refused_chunks++;
			return 0;
		}
		return err;
	}
	if (kind == REC_FRAME_TRAILER)
		return 0;
	err = array__grow((void **)&s->sticky, &s->cap_sticky, s->nr_sticky + 1, sizeof(*s->sticky));
	if (err)
		return err;
	st = &s->sticky[s->nr_sticky];
	st->buf = malloc(len);
	if (!st->buf)
		return -ENOMEM;
	memcpy(st->buf, frame, len);
	st->len = len;
	s->nr_sticky++;
	return 0;
}

static int on_emit(void *ctx, enum rec_frame_kind kind, const uint8_t *frame, size_t len,
		   uint64_t first, uint64_t last)
{
	struct rec_session *s = ctx;

	if (s->ring)
		return window_emit(s, kind, frame, len, first, last);
	return file_emit(s, frame, len);
}

static int on_thread_name(void *ctx, uint32_t pid, uint32_t tid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	int err = -ENOENT;

	(void)ctx;
	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fgets(buf, (int)size, f)) {
		buf[strcspn(buf, "\n")] = 0;
		err = 0;
	}
	fclose(f);
	return err;
}

struct rec_session *rec_session__new(const struct rec_session_opts *opts)
{
	struct rec_writer_opts wo = { .sz = sizeof(wo), .emit = on_emit, .thread_name = on_thread_name };
	struct rec_session *s;
	int err;

	if (!opts || opts->sz < sizeof(*opts)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *opts;
	s->fd = -1;
	if (!s->o.chunk_ns)
		s->o.chunk_ns = DEFAULT_CHUNK_NS;
	if (s->o.window_bytes) {
		struct flight_ring_opts ro = {
			.sz = sizeof(ro), .max_bytes = s->o.window_bytes, .max_age_ns = s->o.window_ns,
		};

		s->ring = flight_ring__new(&ro);
		if (!s->ring) {
			err = -errno;
			pr_warn("cannot set up a %llu-byte flight recorder: %s\n",
				(unsigned long long)s->o.window_bytes, strerror(-err));
			goto fail;
		}
	}
	if (s->o.path) {
		/* a window is written at the end, but its file is claimed now */
		FILE *f = open_output(s->o.path, s->o.force);

		if (!f) {
			err = -EEXIST;
			goto fail;
		}
		s->fd = dup(fileno(f));
		fclose(f);
		if (s->fd < 0) {
			err = -errno;
			goto fail;
		}
	}
	wo.ctx = s;
	s->w = rec_writer__new(&wo);
	if (!s->w) {
		err = -errno;
		goto fail;
	}
	return s;
fail:
	rec_session__free(s);
	errno = -err;
	return NULL;
}

void rec_session__free(struct rec_session *s)
{
	if (!s)
		return;
	rec_writer__free(s->w);
	flight_ring__free(s->ring);
	for (size_t i = 0; i < s->nr_sticky; i++)
		free(s->sticky[i].buf);
	free(s->sticky);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int64_t clock_offset(clockid_t id)
{
	struct timespec a, m;

	clock_gettime(id, &a);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)a.tv_sec - m.tv_sec) * 1000000000ll + ((int64_t)a.tv_nsec - m.tv_nsec);
}

static int write_header(struct rec_session *s, uint64_t start_ns)
{
	Asyncscope__TraceHeader h = ASYNCSCOPE__TRACE_HEADER__INIT;
	char host[256] = "";
	int err;

	gethostname(host, sizeof(host) - 1);
	h.format_version = REC_FORMAT_VERSION;
	h.tracer_version = ASYNCSCOPE_VERSION;
	h.host = host;
	h.clock = "CLOCK_MONOTONIC";
	h.realtime_offset_ns = clock_offset(CLOCK_REALTIME);
	h.boottime_offset_ns = clock_offset(CLOCK_BOOTTIME);
	h.start_ns = start_ns;
	h.abi_version = AS_ABI_VERSION;
	h.flight_recorder = s->ring != NULL;
	if (s->fd >= 0 && !s->ring) {
		err = file_emit(s, (const uint8_t *)REC_MAGIC, REC_MAGIC_LEN);
		if (err)
			return err;
	}
	return rec_writer__header(s->w, &h);
}

static int write_process(struct rec_session *s, const struct target *tgt, const bool hooks[HOOK__MAX],
			 uint64_t attach_ns, uint64_t first_task_id)
{
	Asyncscope__ProcessInfo p = ASYNCSCOPE__PROCESS_INFO__INIT;
	const struct tokio_bin *tb = tgt->bin;
	Asyncscope__Hook *hk = NULL, **hkp = NULL;
	Asyncscope__TaskType *ty = NULL, **typ = NULL;
	int err = -ENOMEM;

	hk = calloc(tb->nr_sites + 1, sizeof(*hk));
	hkp = calloc(tb->nr_sites + 1, sizeof(*hkp));
	ty = calloc(tb->nr_vtables + 1, sizeof(*ty));
	typ = calloc(tb->nr_vtables + 1, sizeof(*typ));
	if (!hk || !hkp || !ty || !typ)
		goto cleanup;
	for (size_t i = 0; i < tb->nr_sites; i++) {
		const struct probe_site *ps = &tb->sites[i];

		asyncscope__hook__init(&hk[i]);
		hk[i].kind = (char *)hook_kind_name(ps->kind);
		hk[i].symbol = ps->name ? ps->name : ps->sym;
		hk[i].file_offset = ps->file_off;
		hk[i].cost = (char *)site_class_name(ps->cls);
		hk[i].enabled = hooks[ps->kind] && ps->cls != SITE_REFUSED;
		hkp[i] = &hk[i];
	}
	for (size_t i = 0; i < tb->nr_vtables; i++) {
		asyncscope__task_type__init(&ty[i]);
		ty[i].index = (uint32_t)i;
		ty[i].future_type = tb->vtables[i].future_type ? tb->vtables[i].future_type : "";
		ty[i].scheduler = tb->vtables[i].scheduler ? tb->vtables[i].scheduler : "";
		typ[i] = &ty[i];
	}
	p.pid = tgt->pid;
	p.comm = (char *)tgt->comm;
	p.exe = tgt->exe_path_resolved ? tgt->exe_path_resolved : (char *)tgt->exe_path;
	p.build_id = (char *)tb->build_id;
	p.tokio_version = tb->tokio_version ? tb->tokio_version : "";
	p.n_hooks = tb->nr_sites;
	p.hooks = hkp;
	p.n_types = tb->nr_vtables;
	p.types = typ;
	p.first_task_id = first_task_id;
	p.attach_ns = attach_ns;
	err = rec_writer__process(s->w, &p);
cleanup:
	free(hk);
	free(hkp);
	free(ty);
	free(typ);
	return err;
}

int rec_session__begin(struct rec_session *s, const struct target *tgt, const bool hooks[HOOK__MAX],
		       uint64_t start_ns, uint64_t first_task_id)
{
	int err;

	s->pid = tgt->pid;
	s->start_ns = start_ns;
	s->last_cut_ns = start_ns;
	err = write_header(s, start_ns);
	if (!err)
		err = write_process(s, tgt, hooks, start_ns, first_task_id);
	return err;
}

int rec_session__add(struct rec_session *s, const void *rec, size_t size)
{
	int err;

	if (s->werr)
		return s->werr;
	err = rec_writer__add(s->w, rec, size);
	return err == -EINVAL ? 0 : err;	/* malformed: counted by the writer */
}

int rec_session__tick(struct rec_session *s, uint64_t now_ns)
{
	int err = 0;

	if (s->werr)
		return s->werr;
	if (now_ns - s->last_cut_ns >= s->o.chunk_ns) {
		err = rec_writer__flush(s->w);
		s->last_cut_ns = now_ns;
	}
	if (s->ring)
		flight_ring__expire(s->ring, now_ns);
	return err;
}

/* The trailer of a recording or a window. */
static void fill_trailer(const struct rec_session *s, const struct rec_session_end *end,
			 Asyncscope__Trailer *t, Asyncscope__KernelCounters *k, uint64_t *drops,
			 Asyncscope__PollInProgress *ip, Asyncscope__PollInProgress **ipp)
{
	t->end_ns = end->end_ns;
	t->received = end->received;
	t->target_exited = end->target_exited;
	if (end->counters) {
		rec_counters__to_proto(end->counters, k, drops);
		t->kernel = k;
	}
	for (size_t i = 0; i < end->nr_in_progress; i++) {
		asyncscope__poll_in_progress__init(&ip[i]);
		ip[i].pid = s->pid;
		ip[i].tid = end->in_progress[i].tid;
		ip[i].task_id = end->in_progress[i].frame.task_id;
		ip[i].type_idx = end->in_progress[i].frame.type_idx;
		ip[i].start_ns = end->in_progress[i].frame.start_ns;
		ip[i].waker_clones = end->in_progress[i].frame.waker_clones;
		ip[i].waker_drops = end->in_progress[i].frame.waker_drops;
		ipp[i] = &ip[i];
	}
	t->n_in_progress = end->nr_in_progress;
	t->in_progress = ipp;
}

/* Everything rec_session__dump writes, one frame after another. */
struct dump_ctx {
	int fd;
	int err;
};

static int dump_frame(void *ctx, const void *frame, size_t len, uint64_t first, uint64_t last)
{
	struct dump_ctx *d = ctx;

	(void)first;
	(void)last;
	d->err = rec_write_all(d->fd, frame, len);
	return d->err;
}

static int write_window(struct rec_session *s, int fd, const struct rec_session_end *end)
{
	Asyncscope__Frame f = ASYNCSCOPE__FRAME__INIT;
	Asyncscope__Trailer t = ASYNCSCOPE__TRAILER__INIT;
	Asyncscope__KernelCounters k = ASYNCSCOPE__KERNEL_COUNTERS__INIT;
	uint64_t drops[AS_EV__MAX];
	Asyncscope__PollInProgress *ip = calloc(end->nr_in_progress + 1, sizeof(*ip));
	Asyncscope__PollInProgress **ipp = calloc(end->nr_in_progress + 1, sizeof(*ipp));
	struct dump_ctx d = { .fd = fd };
	struct flight_ring_stats st;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	if (!ip || !ipp) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* what drained so far belongs in the window */
	err = rec_writer__flush(s->w);
	if (err)
		goto cleanup;
	err = rec_write_all(fd, REC_MAGIC, REC_MAGIC_LEN);
	for (size_t i = 0; !err && i < s->nr_sticky; i++)
		err = rec_write_all(fd, s->sticky[i].buf, s->sticky[i].len);
	if (err)
		goto cleanup;
	flight_ring__stats(s->ring, &st);
	err = flight_ring__for_each(s->ring, dump_frame, &d);
	if (err)
		goto cleanup;
	fill_trailer(s, end, &t, &k, drops, ip, ipp);
	t.chunks = st.frames;
	t.window_start_ns = st.oldest_ts;
	t.evicted_chunks = st.evicted_size_frames + st.evicted_age_frames;
	f.body_case = ASYNCSCOPE__FRAME__BODY_TRAILER;
	f.trailer = &t;
	err = rec_frame__encode(&f, &buf, &len);
	if (!err)
		err = rec_write_all(fd, buf, len);
cleanup:
	free(buf);
	free(ip);
	free(ipp);
	return err;
}

int rec_session__dump(struct rec_session *s, const struct rec_session_end *end, char *path, size_t size)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int fd, err;

	if (!s->ring)
		return -ENOTSUP;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	for (int attempt = 0;; attempt++) {
		int n = snprintf(path, size, "%s/asyncscope-%u-%s.%03ld%s%.0d.ast",
				 s->o.dump_dir ? s->o.dump_dir : ".", s->pid, stamp,
				 ts.tv_nsec / 1000000, attempt ? "-" : "", attempt);

		if (n < 0 || (size_t)n >= size)
			return -ENAMETOOLONG;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt >= 99)
			return -errno;
	}
	err = write_window(s, fd, end);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err) {
		unlink(path);
		return err;
	}
	s->dumps++;
	snprintf(s->last_dump, sizeof(s->last_dump), "%s", path);
	return 0;
}

int rec_session__finish(struct rec_session *s, const struct rec_session_end *end)
{
	Asyncscope__Trailer t = ASYNCSCOPE__TRAILER__INIT;
	Asyncscope__KernelCounters k = ASYNCSCOPE__KERNEL_COUNTERS__INIT;
	uint64_t drops[AS_EV__MAX];
	Asyncscope__PollInProgress *ip = NULL, **ipp = NULL;
	int err;

	if (s->fd < 0)
		return 0;
	if (s->ring) {
		err = write_window(s, s->fd, end);
		goto done;
	}
	if (s->werr)
		return s->werr;
	ip = calloc(end->nr_in_progress + 1, sizeof(*ip));
	ipp = calloc(end->nr_in_progress + 1, sizeof(*ipp));
	if (!ip || !ipp) {
		err = -ENOMEM;
		goto done;
	}
	fill_trailer(s, end, &t, &k, drops, ip, ipp);
	err = rec_writer__trailer(s->w, &t);
done:
	if (!err && fsync(s->fd))
		err = -errno;
	if (close(s->fd) && !err)
		err = -errno;
	s->fd = -1;
	free(ip);
	free(ipp);
	if (err && !s->werr)
		pr_warn("cannot write the recording '%s': %s\n", s->o.path, strerror(-err));
	return err;
}

void rec_session__summary(const struct rec_session *s, FILE *out)
{
	const struct rec_writer_stats *ws = rec_writer__stats(s->w);
	struct flight_ring_stats st;

	if (!s->ring) {
		if (s->o.path)
			fprintf(out, "asyncscope: wrote %llu events in %llu chunks (%llu bytes) to %s\n",
				(unsigned long long)ws->events, (unsigned long long)ws->chunks,
				(unsigned long long)(s->written), s->o.path);
		return;
	}
	flight_ring__stats(s->ring, &st);
	fprintf(out, "asyncscope: flight recorder held %llu chunks, %llu of %llu bytes (peak %llu); %llu chunks left the window; %llu dumps\n",
		(unsigned long long)st.frames, (unsigned long long)st.used_bytes,
		(unsigned long long)st.capacity, (unsigned long long)st.peak_used_bytes,
		(unsigned long long)(st.evicted_size_frames + st.evicted_age_frames),
		(unsigned long long)s->dumps);
	if (s->refused_chunks)
		fprintf(out, "asyncscope: %llu chunks were larger than the whole window and were not kept: raise its size\n",
			(unsigned long long)s->refused_chunks);
}
