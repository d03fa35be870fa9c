// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "percpu.h"

int percpu__sum(int map_fd, uint32_t nr, uint64_t *out)
{
	int nr_cpus = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (nr_cpus <= 0)
		return nr_cpus ? nr_cpus : -EINVAL;
	vals = calloc(nr_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < nr; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(map_fd, &k, vals)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < nr_cpus; c++)
			out[k] += vals[c];
	}
	free(vals);
	return err;
}
