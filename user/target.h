/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A running process to trace: it exists, we may look at it, its binary is
 * tokio with a layout we understand, and where that binary is mapped.
 */
#ifndef ASYNCSCOPE_TARGET_H
#define ASYNCSCOPE_TARGET_H

#include <stdint.h>
#include "tokio_bin.h"

struct target {
	uint32_t pid;
	int pidfd;			/* readable when the process exits */
	char comm[32];			/* /proc/PID/comm */
	char exe_path[64];		/* "/proc/PID/exe": resolves to the mapped inode */
	char *exe_path_resolved;	/* where that link points, for people */
	struct tokio_bin *bin;
	uint64_t bias;			/* runtime address = ELF vaddr + bias */
};

/*
 * 0, or -errno with a one-line message already printed:
 * -ESRCH no such process, -EACCES/-EPERM not allowed, and tokio_bin__open's
 * errors (ENOEXEC, ENODATA, ESRCH for "not tokio", EPROTO).
 */
int target__open_pid(uint32_t pid, struct target **out);
void target__free(struct target *t);

/* Read a u64 of the live process at an ELF vaddr of its binary; 0 or -errno. */
int target__read_u64(const struct target *t, uint64_t vaddr, uint64_t *out);

#endif
