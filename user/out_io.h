/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The I/O parts of the reports (user/io_stats.h): per-task I/O, the
 * resources view, the waits (async ops) and the wake sources, for the
 * table (out_table.c) and the JSON report (out_json.c).  The table's
 * resources section, in the spirit of tokio-console's resources view:
 *
 *   resources: 2 sockets
 *   FD  PROTO  LOCAL            PEER             RX   TX  OPS  EAGAIN  WAITS   WAITED     MAX  TASKS
 *    9  tcp    127.0.0.1:40000  -                 0    0    4       5      5   12.0ms  5.00ms  5
 *   10  tcp    127.0.0.1:40000  127.0.0.1:52144  256  256  10       4      4   3.10ms   900us  5,6
 *   wakes by source: self 3, task 10, blocking 1, io 20, timer 5, external 0, other 0
 */
#ifndef ASYNCSCOPE_OUT_IO_H
#define ASYNCSCOPE_OUT_IO_H

#include <stddef.h>
#include <stdio.h>
#include "io_stats.h"

struct json_writer;
struct as_task;

/* The I/O data to report, NULL when none was traced. */
const struct io_stats *out_io__of(const struct io_stats *io);

/* "tcp 127.0.0.1:4000": the peer (else local) address of the resource t waited on longest; "-" */
char *out_io__top_label(const struct io_stats *io, const struct io_task *t, char *buf, size_t size);

/* The resources section and the wake-sources line of the table. */
void out_io__table(FILE *out, const struct io_stats *io);

/* "io": the task's I/O object, or null. */
void out_io__json_task(struct json_writer *w, const struct io_stats *io, const struct as_task *t);

/* "io", "resources", "async_ops" of the JSON report's top level. */
void out_io__json(struct json_writer *w, const struct io_stats *io);

#endif
