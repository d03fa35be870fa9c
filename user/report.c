// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "correlator.h"
#include "report.h"

uint64_t report__now(const struct report_meta *m, const struct correlator *c)
{
	uint64_t now = correlator__max_ts(c);

	if (m->end_ns)
		return m->end_ns;
	return now > m->start_ns ? now : m->start_ns;
}

uint64_t report__duration(const struct report_meta *m, const struct correlator *c)
{
	uint64_t now = report__now(m, c);

	if (!m->start_ns || now < m->start_ns)
		return 0;
	return now - m->start_ns;
}

static int task_cmp(const void *a, const void *b)
{
	const struct as_task *x = *(const struct as_task *const *)a;
	const struct as_task *y = *(const struct as_task *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

int report__sorted_tasks(const struct correlator *c, const struct as_task ***tasks, size_t *nr)
{
	size_t n = correlator__nr_tasks(c), i;
	const struct as_task **v;

	*tasks = NULL;
	*nr = 0;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = correlator__task(c, i);
	qsort(v, n, sizeof(*v), task_cmp);
	*tasks = v;
	*nr = n;
	return 0;
}

uint32_t report__kind_of_scheduler(const char *scheduler)
{
	return scheduler && !strcmp(scheduler, "blocking") ? AS_TASK_BLOCKING : AS_TASK_ASYNC;
}

const char *report__kind_name(uint32_t kind)
{
	switch (kind) {
	case AS_TASK_ASYNC:	return "async";
	case AS_TASK_BLOCKING:	return "blocking";
	default:		return NULL;
	}
}

char *report__fmt_duration(char *buf, size_t size, uint64_t ns)
{
	static const char *const units[] = { "us", "ms", "s" };
	uint64_t pow = 1, q;
	int digits = 1, unit, int_digits;

	if (ns < 1000) {
		snprintf(buf, size, "%" PRIu64 "ns", ns);
		return buf;
	}
	/* Past 999.5 s the seconds are shown whole. */
	if (ns >= 999500000000ull) {
		snprintf(buf, size, "%" PRIu64 "s",
			 (uint64_t)(ns / 1000000000ull + (ns % 1000000000ull >= 500000000ull)));
		return buf;
	}
	while (ns / pow >= 10) {
		pow *= 10;
		digits++;
	}
	/* Keep 3 significant digits, rounding half up in integers. */
	pow /= 100;
	q = (ns + pow / 2) / pow;
	if (q == 1000) {
		q = 100;
		digits++;
	}
	unit = (digits - 4) / 3;
	int_digits = digits - 3 * (unit + 1);
	switch (int_digits) {
	case 1:
		snprintf(buf, size, "%" PRIu64 ".%02" PRIu64 "%s", q / 100, q % 100, units[unit]);
		break;
	case 2:
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%s", q / 10, q % 10, units[unit]);
		break;
	default:
		snprintf(buf, size, "%" PRIu64 "%s", q, units[unit]);
		break;
	}
	return buf;
}
