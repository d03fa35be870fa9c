/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading the BPF programs' per-CPU counter arrays. */
#ifndef ASYNCSCOPE_PERCPU_H
#define ASYNCSCOPE_PERCPU_H

#include <stdint.h>

/*
 * out[k] = the sum over every possible CPU of key k, for k < nr, of the
 * BPF_MAP_TYPE_PERCPU_ARRAY of u64 at map_fd.  0 or -errno (out is then
 * filled up to the key that failed).
 */
int percpu__sum(int map_fd, uint32_t nr, uint64_t *out);

#endif
