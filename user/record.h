/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A ring-buffer record, checked before anyone reads it: every consumer
 * (correlator, timeline, io_stats) takes untrusted bytes the same way.
 */
#ifndef ASYNCSCOPE_RECORD_H
#define ASYNCSCOPE_RECORD_H

#include <stddef.h>
#include <linux/types.h>
#include "asyncscope.h"

/*
 * Copy the record in data (any alignment) into *out: its size must equal
 * the header's and cover its known type.  A larger record is a newer
 * ABI's: only the known prefix is copied.  0, or -EINVAL.
 */
int record__copy(const void *data, size_t size, union as_record *out);

/*
 * The checks a task record's fields must pass (a zero time or task id
 * marks a record the BPF side could not fill).  Socket and runtime
 * records pass: io_stats checks those.  0, or -EINVAL.
 */
int record__validate(const union as_record *r);

#endif
