// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Checking a ring-buffer record before use. */
#include <errno.h>
#include <string.h>
#include "record.h"

int record__copy(const void *data, size_t size, union as_record *out)
{
	int min;

	if (!data || size < sizeof(out->h))
		return -EINVAL;
	memcpy(&out->h, data, sizeof(out->h));
	if (out->h.size != size)
		return -EINVAL;
	min = as_event_min_size(out->h.type);
	if (min < 0 || size < (size_t)min)
		return -EINVAL;
	memcpy(out, data, (size_t)min);
	return 0;
}

int record__validate(const union as_record *r)
{
	/* bpf_ktime_get_ns() is never 0 and tokio task ids are NonZeroU64 */
	if (!r->h.ts_ns)
		return -EINVAL;
	switch (r->h.type) {
	case AS_EV_POLL:
		return !r->poll.task_id || !r->poll.start_ns || r->h.ts_ns < r->poll.start_ns ?
			       -EINVAL : 0;
	case AS_EV_WAKER:
		return !r->waker.task_id || r->waker.op < AS_WAKE_BY_VAL ||
				       r->waker.op > AS_WAKER_DROP ? -EINVAL : 0;
	case AS_EV_SPAWN:
		return !r->spawn.task_id || r->spawn.file_len > AS_LOC_FILE_MAX ? -EINVAL : 0;
	case AS_EV_SOCK:
	case AS_EV_SOCK_OP:
	case AS_EV_RUNTIME:
		return 0;
	default:	/* AS_EV_COMPLETE, AS_EV_SHUTDOWN, AS_EV_SCHEDULE */
		return r->task.task_id ? 0 : -EINVAL;
	}
}
