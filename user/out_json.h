/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The trace as one JSON document (version 1), for scripts and tests:
 *
 *   {"version":1,
 *    "process":{"pid":42,"exe":"/srv/app","tokio_version":"1.38.0"},
 *    "duration_ns":2000000000,"target_exited":false,
 *    "summary":{"tasks":..,"by_kind":{..},"spawned":{..},"completed":{..},"polls":..,
 *               "events":{..},"kernel":{..} or null,"anomalies":{..}},
 *    "tasks":[{"pid":42,"id":1,"kind":"async","state":"done",...}]}
 *
 * Counts that only the kernel knows are null when the records do not come
 * from a live trace (report_meta.counters == NULL).  Tasks are sorted by
 * (pid, id); times are nanoseconds, created_ns/closed_ns CLOCK_MONOTONIC.
 */
#ifndef ASYNCSCOPE_OUT_JSON_H
#define ASYNCSCOPE_OUT_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include "correlator.h"
#include "report.h"

/* Compact, one line, newline-terminated. */
void out_json__print(FILE *out, const struct correlator *c, const struct report_meta *m);

/* The same document, indented when pretty.  0 or -errno (-ENOMEM, -EIO). */
int out_json__write(FILE *out, const struct correlator *c, const struct report_meta *m,
		    bool pretty);

#endif
