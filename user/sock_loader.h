/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bpf/sock.bpf.c's lifecycle: open, share tokio.bpf.c's ring buffer,
 * counters and per-thread poll stacks (by fd, before load), load, attach
 * the socket and syscall tracepoints once, then per traced process: let its
 * records through, and put probes on tokio's driver functions in its binary
 * (user/rt_sites.h).  Records arrive through tokio's ring buffer,
 * drained by struct tracer.
 */
#ifndef ASYNCSCOPE_SOCK_LOADER_H
#define ASYNCSCOPE_SOCK_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "asyncscope.h"

struct sock_tracer_opts {
	size_t sz;		/* sizeof(struct sock_tracer_opts) */
	int events_fd;		/* tokio.bpf.c's maps: the ring buffer, */
	int counters_fd;	/* its counters, */
	int threads_fd;		/* its per-thread poll stacks */
};

struct sock_tracer;

/* NULL with errno set (and a warning printed) when the programs cannot load. */
struct sock_tracer *sock_tracer__new(const struct sock_tracer_opts *opts);
void sock_tracer__free(struct sock_tracer *s);	/* NULL-safe; detaches everything */

/*
 * Record pid's socket operations and runtime phases.  bin_path resolves to
 * its binary (e.g. /proc/PID/exe); elf_path is the same file to read
 * symbols from.  A binary without the driver functions still gets its
 * socket records (its wakes are then classified by the epoll marker only).
 */
int sock_tracer__add_process(struct sock_tracer *s, uint32_t pid, const char *bin_path,
			     const char *elf_path);
/* Stop recording pid at once (the probes stay until removed). */
int sock_tracer__stop_process(struct sock_tracer *s, uint32_t pid);
/* Stop, then remove pid's probes. */
int sock_tracer__remove_process(struct sock_tracer *s, uint32_t pid);
/* Probes on pid's binary (runtime phase entries). */
size_t sock_tracer__nr_probes(const struct sock_tracer *s, uint32_t pid);

/* Sum of the per-CPU socket counters, AS_SCNT__MAX entries. */
int sock_tracer__counters(const struct sock_tracer *s, uint64_t out[AS_SCNT__MAX]);

#endif
