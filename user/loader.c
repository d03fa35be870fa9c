// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "array.h"
#include "loader.h"
#include "log.h"
#include "percpu.h"
#include "tokio.skel.h"
#include "uprobe_multi.h"

#define DEFAULT_RINGBUF (16u << 20)

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL	/* Linux 6.9: a pidfd of a thread, not only of a leader */
#endif

/* The programs, as indices of a process's uprobe_multi sets. */
enum tracer_prog {
	TP_POLL_ENTER = 0,
	TP_POLL_EXIT,
	TP_WAKER_OP,
	TP_TASK_OP,
	TP_SPAWN_LOC,
	TP_SPAWN_RET,
	TP_SPAWN_BLOCKING,
	TP__MAX
};

struct traced_proc {
	uint32_t pid;
	struct bpf_link **links;	/* perf-event links (no uprobe_multi) */
	size_t nr_links;
	struct uprobe_multi_set sets[TP__MAX];	/* uprobe_multi: one link per program */
	size_t nr_probes;
	struct as_vtable_key *keys;	/* vtable map entries we added */
	size_t nr_keys;
	bool traced;			/* in the procs map: its hits are recorded */
	bool ends_probed;		/* every vtable's raw::shutdown has a live probe */
};

struct tracer {
	struct tokio_bpf *skel;
	struct ring_buffer *rb;
	tracer_record_fn fn;
	void *ctx;
	struct traced_proc *procs;
	size_t nr_procs;
	size_t nr_procs_traced;		/* procs[] whose traced is set */
	/*
	 * uprobe_multi links (Linux 6.6+) where the kernel has them: a
	 * perf-event uprobe takes ~0.1 s to remove, one at a time (a large
	 * binary's 3,000 probes: 5 minutes); a multi link, one grace period.
	 */
	bool multi;
};

static struct bpf_program *prog_of(struct tokio_bpf *sk, enum tracer_prog tp)
{
	switch (tp) {
	case TP_POLL_ENTER:	return sk->progs.poll_enter;
	case TP_POLL_EXIT:	return sk->progs.poll_exit;
	case TP_WAKER_OP:	return sk->progs.waker_op;
	case TP_TASK_OP:	return sk->progs.task_op;
	case TP_SPAWN_LOC:	return sk->progs.spawn_loc;
	case TP_SPAWN_RET:	return sk->progs.spawn_ret;
	case TP_SPAWN_BLOCKING:	return sk->progs.spawn_blocking;
	default:		return NULL;
	}
}

/* Return probes: attached with BPF_F_UPROBE_MULTI_RETURN, and first. */
static bool prog_is_ret(enum tracer_prog tp)
{
	return tp == TP_POLL_EXIT || tp == TP_SPAWN_RET;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	t->fn(t->ctx, data, size);
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own messages (verifier logs among them) only with -v; debug with -vv */
	if (log_verbosity < LOG_INFO || (level == LIBBPF_DEBUG && log_verbosity < LOG_DEBUG))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct tracer *tracer__new(const struct tracer_opts *opts, tracer_record_fn fn, void *ctx)
{
	size_t rb_bytes = DEFAULT_RINGBUF;
	struct tracer *t;
	int err;

	if (opts && opts->ringbuf_bytes)
		rb_bytes = opts->ringbuf_bytes;
	if (rb_bytes < 4096 || (rb_bytes & (rb_bytes - 1))) {
		pr_warn("ring buffer size %zu is not a power of two >= 4096\n", rb_bytes);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fn = fn;
	t->ctx = ctx;
	libbpf_set_print(libbpf_print);

	t->skel = tokio_bpf__open();
	if (!t->skel) {
		err = -errno;
		pr_warn("bpf: cannot open the BPF object: %s\n", strerror(-err));
		goto fail;
	}
	t->multi = !(opts && opts->sz >= offsetof(struct tracer_opts, no_uprobe_multi) +
			     sizeof(opts->no_uprobe_multi) && opts->no_uprobe_multi) &&
		   uprobe_multi__supported();
	for (int tp = 0; t->multi && tp < TP__MAX; tp++) {
		err = uprobe_multi__prepare(prog_of(t->skel, tp));
		if (err)
			goto fail;
	}
	pr_debug("bpf: %s links\n", t->multi ? "uprobe_multi" : "perf-event uprobe");
	err = bpf_map__set_max_entries(t->skel->maps.events, rb_bytes);
	if (err)
		goto fail;
	err = tokio_bpf__load(t->skel);
	if (err) {
		pr_warn("bpf: cannot load the BPF programs: %s%s\n", strerror(-err),
			log_verbosity < LOG_INFO ? " (run with -v for the verifier log)" : "");
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		err = -errno;
		pr_warn("bpf: cannot set up the ring buffer: %s\n", strerror(-err));
		goto fail;
	}
	return t;
fail:
	tracer__free(t);
	errno = -err;
	return NULL;
}

static struct traced_proc *find_proc(const struct tracer *t, uint32_t pid)
{
	for (size_t i = 0; i < t->nr_procs; i++)
		if (t->procs[i].pid == pid)
			return &t->procs[i];
	return NULL;
}

static int add_link(struct traced_proc *p, struct bpf_link *l)
{
	struct bpf_link **n = realloc(p->links, (p->nr_links + 1) * sizeof(*n));

	if (!n) {
		bpf_link__destroy(l);
		return -ENOMEM;
	}
	p->links = n;
	p->links[p->nr_links++] = l;
	return 0;
}

static int attach_one(struct tracer *t, struct traced_proc *p, enum tracer_prog tp,
		      const char *path, uint64_t off, uint64_t cookie)
{
	bool ret = prog_is_ret(tp);
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret, .bpf_cookie = cookie);
	struct bpf_program *prog = prog_of(t->skel, tp);
	struct bpf_link *l;
	int err;

	p->nr_probes++;
	/* collected now, attached in one go per program by attach_sets() */
	if (t->multi)
		return uprobe_multi_set__add(&p->sets[tp], off, cookie);
	l = bpf_program__attach_uprobe_opts(prog, p->pid, path, off, &o);
	if (!l) {
		err = -errno;
		pr_warn("bpf: cannot attach %s%s to %s+0x%llx in pid %u: %s\n",
			bpf_program__name(prog), ret ? " (return)" : "", path,
			(unsigned long long)off, p->pid, strerror(-err));
		return err;
	}
	return add_link(p, l);
}

/* uprobe_multi: every return probe first, as with one link per probe. */
static int attach_sets(struct tracer *t, struct traced_proc *p, const char *path)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int tp = 0; tp < TP__MAX; tp++) {
			struct bpf_program *prog = prog_of(t->skel, tp);
			int err;

			if (prog_is_ret(tp) != (pass == 0))
				continue;
			err = uprobe_multi_set__attach(&p->sets[tp], bpf_program__fd(prog), path,
						       p->pid, prog_is_ret(tp));
			if (err) {
				pr_warn("bpf: cannot attach %s%s to %zu sites of %s in pid %u: %s\n",
					bpf_program__name(prog), prog_is_ret(tp) ? " (return)" : "",
					p->sets[tp].nr, path, p->pid, strerror(-err));
				return err;
			}
		}
	}
	return 0;
}

/* The probe goes at the function's entry for a return probe, wherever the site says otherwise. */
static uint64_t entry_off(const struct probe_site *s)
{
	return s->file_off - (s->vaddr - s->sym_vaddr);
}

/* The hooks served by one entry probe, and the cookie that tells them apart. */
static int entry_prog(enum hook_kind kind, uint64_t *cookie)
{
	*cookie = 0;
	switch (kind) {
	case HOOK_WAKE_BY_VAL:	*cookie = AS_WAKE_BY_VAL; return TP_WAKER_OP;
	case HOOK_WAKE_BY_REF:	*cookie = AS_WAKE_BY_REF; return TP_WAKER_OP;
	case HOOK_CLONE_WAKER:	*cookie = AS_WAKER_CLONE; return TP_WAKER_OP;
	case HOOK_DROP_WAKER:	*cookie = AS_WAKER_DROP; return TP_WAKER_OP;
	case HOOK_SCHEDULE:	*cookie = AS_EV_SCHEDULE; return TP_TASK_OP;
	case HOOK_COMPLETE:	*cookie = AS_EV_COMPLETE; return TP_TASK_OP;
	case HOOK_SHUTDOWN:	*cookie = AS_EV_SHUTDOWN; return TP_TASK_OP;
	case HOOK_SPAWN_BLOCKING: return TP_SPAWN_BLOCKING;
	default:		return -1;
	}
}

static int attach_site(struct tracer *t, struct traced_proc *p, const char *path,
		       const struct probe_site *s, bool use_spawn_inner_ret)
{
	uint64_t cookie;
	int err, tp;

	switch (s->kind) {
	case HOOK_POLL:
		/* the return first: a return with no entry is counted, an entry with no return is not */
		err = attach_one(t, p, TP_POLL_EXIT, path, entry_off(s), 0);
		return err ?: attach_one(t, p, TP_POLL_ENTER, path, s->file_off, 0);
	case HOOK_SPAWN_INNER:
		err = attach_one(t, p, TP_SPAWN_LOC, path, s->file_off, 0);
		if (!err && use_spawn_inner_ret)
			err = attach_one(t, p, TP_SPAWN_RET, path, entry_off(s), 0);
		return err;
	case HOOK_BIND:
		return attach_one(t, p, TP_SPAWN_RET, path, entry_off(s), 0);
	default:
		tp = entry_prog(s->kind, &cookie);
		return tp >= 0 ? attach_one(t, p, tp, path, s->file_off, cookie) : 0;
	}
}

static int add_vtables(struct tracer *t, struct traced_proc *p, const struct tokio_bin *tb,
		       uint64_t bias)
{
	int fd = bpf_map__fd(t->skel->maps.vtables);

	p->keys = calloc(tb->nr_vtables ?: 1, sizeof(*p->keys));
	if (!p->keys)
		return -ENOMEM;
	for (size_t i = 0; i < tb->nr_vtables; i++) {
		struct as_vtable_key k = { .pid = p->pid, .addr = tb->vtables[i].vaddr + bias };
		struct as_vtable_val v = {
			.id_offset = (uint32_t)tb->vtables[i].id_offset,
			.type_idx = (uint32_t)i,
		};

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			int err = -errno;

			pr_warn("bpf: cannot add vtable 0x%llx of pid %u: %s\n",
				(unsigned long long)k.addr, p->pid, strerror(-err));
			return err;
		}
		p->keys[p->nr_keys++] = k;
	}
	return 0;
}

#define NR_FAST_PIDS (sizeof(((struct tokio_bpf *)0)->bss->fast_pids) / sizeof(uint32_t))

/*
 * Replace pid by to in the BPF side's fast_pids slots (pid 0: a free slot),
 * which it checks before the procs map (a lookup on every hit), asking the
 * map only while fast_pids_complete is 0.
 */
static void fast_pids_set(struct tracer *t, uint32_t pid, uint32_t to)
{
	volatile uint32_t *slots = t->skel->bss->fast_pids;
	size_t listed = 0;

	for (size_t i = 0; i < NR_FAST_PIDS; i++) {
		if (slots[i] == pid) {
			slots[i] = to;
			break;
		}
	}
	for (size_t i = 0; i < NR_FAST_PIDS; i++)
		listed += slots[i] != 0;
	/* every process being traced is in a slot: the map need not be asked */
	t->skel->bss->fast_pids_complete = listed == t->nr_procs_traced;
}

/*
 * The BPF side's task cache (Header address -> task) takes a task out when
 * it ends: at Harness::complete inside its poll (for the types where that
 * probe is seen to fire; the BPF side learns which) or at raw::shutdown,
 * the other way a task ends.  So it may be used only while every vtable's
 * shutdown slot is a live probe (ICF or a refused site would leave a way
 * out unseen).
 */
#define VT_SLOT_SHUTDOWN 6

static bool shutdowns_probed(const struct tokio_bin *tb, const bool enabled[HOOK__MAX])
{
	if (!enabled[HOOK_SHUTDOWN] || !tb->nr_vtables)
		return false;
	for (size_t v = 0; v < tb->nr_vtables; v++) {
		bool found = false;

		for (size_t i = 0; i < tb->nr_sites && !found; i++)
			found = tb->sites[i].kind == HOOK_SHUTDOWN && tb->sites[i].cls != SITE_REFUSED &&
				tb->sites[i].sym_vaddr == tb->vtables[v].slots[VT_SLOT_SHUTDOWN];
		if (!found)
			return false;
	}
	return true;
}

static void task_cache_update(struct tracer *t)
{
	bool on = t->nr_procs > 0;

	for (size_t i = 0; i < t->nr_procs; i++)
		on = on && t->procs[i].ends_probed;
	t->skel->bss->task_cache_on = on;
}

/* The task cache's entries of pid: a later process with its number must not find them. */
static void task_cache_forget(struct tracer *t, uint32_t pid)
{
	int fd = bpf_map__fd(t->skel->maps.tasks);
	struct as_task_key key, *doomed = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	/* collect first: a deleted key cannot be the cursor of the walk */
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		if (key.pid == pid && !array__grow((void **)&doomed, &cap, n + 1, sizeof(*doomed)))
			doomed[n++] = key;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	free(doomed);
}

int tracer__add_process(struct tracer *t, uint32_t pid, const char *bin_path,
			const struct tokio_bin *tb, uint64_t bias,
			const bool enabled[HOOK__MAX])
{
	struct traced_proc *procs, *p;
	bool spawn_inner_ret;
	int err;

	if (find_proc(t, pid))
		return -EEXIST;
	procs = realloc(t->procs, (t->nr_procs + 1) * sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	t->procs = procs;
	p = &t->procs[t->nr_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	/* off until this process's probes are all live */
	task_cache_update(t);

	/* vtables first: a hook that fires before its vtable is known would be lost */
	err = add_vtables(t, p, tb, bias);
	if (err)
		goto fail;
	err = bpf_map_update_elem(bpf_map__fd(t->skel->maps.procs), &pid, &(uint32_t){ 1 }, BPF_ANY);
	if (err) {
		err = -errno;
		goto fail;
	}
	p->traced = true;
	t->nr_procs_traced++;
	fast_pids_set(t, 0, pid);
	/* without bind, the new task's Header comes from spawn_inner's return */
	spawn_inner_ret = enabled[HOOK_BIND] ? tokio_bin__count(tb, HOOK_BIND) == 0 : true;
	for (size_t i = 0; i < tb->nr_sites; i++) {
		const struct probe_site *s = &tb->sites[i];

		if (!enabled[s->kind])
			continue;
		if (s->cls == SITE_REFUSED) {
			/* the kernel would fail the whole attach with ENOTSUPP */
			pr_warn("skipping %s at 0x%llx: the kernel cannot probe '%s' there\n",
				hook_kind_name(s->kind), (unsigned long long)s->vaddr, s->name);
			continue;
		}
		err = attach_site(t, p, bin_path, s, spawn_inner_ret);
		if (err)
			goto fail;
	}
	if (t->multi) {
		err = attach_sets(t, p, bin_path);
		if (err)
			goto fail;
	}
	p->ends_probed = shutdowns_probed(tb, enabled);
	task_cache_update(t);
	return 0;
fail:
	tracer__remove_process(t, pid);
	return err;
}

int tracer__stop_process(struct tracer *t, uint32_t pid)
{
	struct traced_proc *p = find_proc(t, pid);

	if (!p)
		return -ENOENT;
	if (p->traced) {
		p->traced = false;
		t->nr_procs_traced--;
		fast_pids_set(t, pid, 0);
	}
	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.procs), &pid) && errno != ENOENT)
		return -errno;
	return 0;
}

int tracer__remove_process(struct tracer *t, uint32_t pid)
{
	struct traced_proc *p = find_proc(t, pid);
	int fd;

	if (!p)
		return -ENOENT;
	tracer__stop_process(t, pid);
	for (size_t i = 0; i < p->nr_links; i++)
		bpf_link__destroy(p->links[i]);
	for (int tp = 0; tp < TP__MAX; tp++)
		uprobe_multi_set__free(&p->sets[tp]);
	fd = bpf_map__fd(t->skel->maps.vtables);
	for (size_t i = 0; i < p->nr_keys; i++)
		bpf_map_delete_elem(fd, &p->keys[i]);
	free(p->links);
	free(p->keys);
	*p = t->procs[--t->nr_procs];
	task_cache_forget(t, pid);
	task_cache_update(t);
	return 0;
}

size_t tracer__nr_links(const struct tracer *t, uint32_t pid)
{
	const struct traced_proc *p = find_proc(t, pid);

	return p ? p->nr_probes : 0;
}

int tracer__map_fd(const struct tracer *t, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(t->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int tracer__drain(struct tracer *t)
{
	return ring_buffer__consume(t->rb);
}

int tracer__counters(const struct tracer *t, uint64_t out[AS_CNT_NR])
{
	return percpu__sum(bpf_map__fd(t->skel->maps.counters), AS_CNT_NR, out);
}

/*
 * fn(ctx, tid, fd) for each thread of pid, fd a pidfd of that thread: the
 * key of its entry in a task-storage map.  Threads that end meanwhile are
 * skipped; a process that is gone has no threads (and no entries) left.
 */
static void for_each_thread(uint32_t pid, void (*fn)(void *ctx, uint32_t tid, int fd), void *ctx)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char *end;
		unsigned long tid = strtoul(de->d_name, &end, 10);
		int fd;

		if (*end || !tid)
			continue;
		fd = (int)syscall(SYS_pidfd_open, (pid_t)tid, PIDFD_THREAD);
		if (fd < 0)
			continue;
		fn(ctx, (uint32_t)tid, fd);
		close(fd);
	}
	closedir(dir);
}

struct frames_walk {
	int map_fd;
	uint32_t pid;
	tracer_frame_fn fn;
	void *ctx;
};

static void thread_frames(void *ctx, uint32_t tid, int fd)
{
	struct frames_walk *w = ctx;
	struct as_thread_state st;

	if (bpf_map_lookup_elem(w->map_fd, &fd, &st))
		return;
	for (uint32_t d = 0; d < st.depth && d < AS_POLL_DEPTH; d++)
		w->fn(w->ctx, w->pid, tid, &st.frames[d]);
}

int tracer__in_progress(const struct tracer *t, uint32_t pid, tracer_frame_fn fn, void *ctx)
{
	struct frames_walk w = {
		.map_fd = bpf_map__fd(t->skel->maps.threads), .pid = pid, .fn = fn, .ctx = ctx,
	};

	for_each_thread(pid, thread_frames, &w);
	return 0;
}

static void thread_forget(void *ctx, uint32_t tid, int fd)
{
	(void)tid;
	bpf_map_delete_elem(*(int *)ctx, &fd);
}

void tracer__forget_threads(struct tracer *t, uint32_t pid)
{
	int map_fd = bpf_map__fd(t->skel->maps.threads);

	for_each_thread(pid, thread_forget, &map_fd);
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	while (t->nr_procs)
		tracer__remove_process(t, t->procs[0].pid);
	free(t->procs);
	ring_buffer__free(t->rb);
	tokio_bpf__destroy(t->skel);
	free(t);
}
