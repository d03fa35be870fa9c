/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's lifecycle: open -> size the ring buffer -> load, then
 * attach and detach processes at run time, drain records on a timer, read
 * the in-kernel counters.  Knows nothing of what records mean.
 */
#ifndef ASYNCSCOPE_LOADER_H
#define ASYNCSCOPE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncscope.h"
#include "tokio_bin.h"

typedef int (*tracer_record_fn)(void *ctx, const void *data, size_t size);
typedef void (*tracer_frame_fn)(void *ctx, uint32_t pid, uint32_t tid,
				const struct as_poll_frame *f);

struct tracer_opts {
	size_t sz;
	size_t ringbuf_bytes;	/* power of two, >= page size; 0 = default 16 MiB */
	/*
	 * One perf-event link per probe even where the kernel has uprobe_multi
	 * links (Linux 6.6+), which are otherwise used: one link per program,
	 * removed in one grace period instead of ~0.1 s per probe.
	 */
	bool no_uprobe_multi;
};

struct tracer;

/* Opens and loads the BPF programs; NULL with errno set on failure. */
struct tracer *tracer__new(const struct tracer_opts *opts, tracer_record_fn fn, void *ctx);
void tracer__free(struct tracer *t);	/* detaches everything; NULL-safe */

/*
 * Attach the enabled hooks of tb to process pid.  bin_path is a path the
 * kernel resolves to the binary's inode (e.g. /proc/PID/exe); bias turns
 * the binary's addresses into pid's (runtime = vaddr + bias).
 */
int tracer__add_process(struct tracer *t, uint32_t pid, const char *bin_path,
			const struct tokio_bin *tb, uint64_t bias,
			const bool enabled[HOOK__MAX]);
/*
 * Stop recording pid at once (the probes stay until removed).  Removing a
 * uprobe takes the kernel ~0.1 s each, serially, so a report need not wait.
 */
int tracer__stop_process(struct tracer *t, uint32_t pid);
/* Stop, then remove every probe and map entry of pid. */
int tracer__remove_process(struct tracer *t, uint32_t pid);
/* Probes attached to pid (uprobe_multi links carry many each). */
size_t tracer__nr_links(const struct tracer *t, uint32_t pid);

/*
 * fd of a map other BPF objects share ("events", "counters", "threads":
 * bpf/sock.bpf.c reuses them), or -ENOENT.
 */
int tracer__map_fd(const struct tracer *t, const char *name);

/* Consume what the ring buffer holds now; returns records consumed or -errno. */
int tracer__drain(struct tracer *t);

/* Sum of the per-CPU counters, AS_CNT_NR entries. */
int tracer__counters(const struct tracer *t, uint64_t out[AS_CNT_NR]);

/* Polls of pid still in progress (entered, return not seen). */
int tracer__in_progress(const struct tracer *t, uint32_t pid, tracer_frame_fn fn, void *ctx);

/* Forget pid's per-thread state (after its report was taken). */
void tracer__forget_threads(struct tracer *t, uint32_t pid);

#endif
