/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * uprobe_multi links (Linux 6.6+): one BPF link puts one program on any
 * number of offsets of a binary, for one process.  libbpf 1.1 predates
 * them, so this is the raw BPF_LINK_CREATE.
 *
 * Why: a perf-event uprobe link is removed with a grace-period wait under a
 * global mutex, ~0.1 s each, one at a time (2,000 probes: 200 s); a multi
 * link removes all its probes with one wait.  It is also created with one
 * system call, and its handler runs the program directly, without the
 * perf-event layer.
 */
#ifndef ASYNCSCOPE_UPROBE_MULTI_H
#define ASYNCSCOPE_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_program;

/* The offsets (and a cookie each) one program is attached to. */
struct uprobe_multi_set {
	uint64_t *offsets;
	uint64_t *cookies;
	size_t nr;
	size_t cap;
	int link_fd;		/* valid when attached */
	bool attached;
};

/* Whether this kernel has uprobe_multi links (probed once, then cached). */
bool uprobe_multi__supported(void);

/* Before load: a program attached through uprobe_multi must be loaded for it. */
int uprobe_multi__prepare(struct bpf_program *prog);

/* 0 or -ENOMEM. */
int uprobe_multi_set__add(struct uprobe_multi_set *s, uint64_t file_off, uint64_t cookie);

/*
 * Attach prog_fd to every offset of the set in path (a file the kernel
 * resolves, e.g. /proc/PID/exe), for process pid only; return probes when
 * ret.  An empty set attaches nothing.  0 or -errno.
 */
int uprobe_multi_set__attach(struct uprobe_multi_set *s, int prog_fd, const char *path,
			     uint32_t pid, bool ret);

/* Detaches (if attached) and frees; the set is empty and reusable after. */
void uprobe_multi_set__free(struct uprobe_multi_set *s);

#endif
