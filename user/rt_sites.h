/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where tokio's drivers begin and end the wake phases of a thread, in a
 * binary: the entry of the time driver's process_at_time (timer wakes
 * follow), and the return of process_at_time, else of io::Driver::turn
 * (the driver is done: a parked worker then wakes the tasks that yielded).
 * A runtime built without the time driver in a binary that has it: the
 * wakes of tasks that yielded after an I/O turn count as I/O wakes.
 * The I/O phase itself begins at epoll_wait's return, a tracepoint.  Found
 * offline from the ELF file, like tokio_bin's hooks; both functions
 * survive fat LTO.
 */
#ifndef ASYNCSCOPE_RT_SITES_H
#define ASYNCSCOPE_RT_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tokio_bin.h"	/* enum site_class */

struct rt_site {
	uint32_t phase;		/* enum as_rt_phase */
	bool ret;		/* a return probe (at the entry) */
	char *name;		/* demangled path */
	uint64_t sym_vaddr;	/* the function */
	uint64_t vaddr;		/* the probe's address */
	uint64_t file_off;	/* what uprobes take */
	enum site_class cls;
	char insn[64];		/* the instruction at vaddr, as text */
};

/* Single-stepped or refused sites cost ~12 us a hit: record leaves them out. */
static inline bool rt_site__probed(const struct rt_site *s)
{
	return s->cls != SITE_SINGLE_STEP && s->cls != SITE_REFUSED;
}

/* Which probes a function (a path as demangle__path writes it) gets: RT_SITE_* bits. */
#define RT_SITE_TIMERS		(1u << 0)	/* entry: AS_RT_TIMERS */
#define RT_SITE_DONE		(1u << 1)	/* return: AS_RT_DRIVER_DONE */
uint32_t rt_sites__probes_of(const char *path);

/* Every site in the ELF file at path: 0 or -errno; *out is malloc'd (rt_sites__free). */
int rt_sites__find(const char *path, struct rt_site **out, size_t *nr);
void rt_sites__free(struct rt_site *sites, size_t nr);

struct json_writer;

/* For inspect: a table, or an array of objects (the value of a key already written). */
void rt_sites__print(const struct rt_site *sites, size_t nr, FILE *out);
void rt_sites__json(const struct rt_site *sites, size_t nr, struct json_writer *w);

#endif
