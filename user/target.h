/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A running process to trace: it exists, we may look at it, its binary is
 * tokio with a layout we understand, and where that binary is mapped.
 */
#ifndef ASYNCSCOPE_TARGET_H
#define ASYNCSCOPE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include "tokio_bin.h"

struct target {
	uint32_t pid;
	int pidfd;			/* readable when the process exits */
	int memfd;			/* /proc/PID/mem of the address space analysed, or -1 */
	int memfd_err;			/* why not: -errno */
	uint64_t exe_dev, exe_ino;	/* the executable analysed */
	char comm[32];			/* /proc/PID/comm */
	int exefd;			/* the executable analysed, opened once */
	char exe_path[64];		/* "/proc/self/fd/<exefd>": analyse and attach through it */
	char proc_exe[64];		/* "/proc/PID/exe": what the process runs now */
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

/*
 * The process still runs but exec'd another program (or itself again): the
 * address space analysed is gone.  false while it runs the program analysed,
 * and when it exited (the pidfd says that).  exe: the new executable.
 */
bool target__execed(const struct target *t, char *exe, size_t size);

/* Read a u64 of the live process at an ELF vaddr of its binary; 0 or -errno. */
int target__read_u64(const struct target *t, uint64_t vaddr, uint64_t *out);

#endif
