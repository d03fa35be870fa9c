/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A timeline as Chrome trace-event JSON, for tools that read only that
 * (chrome://tracing, Perfetto's JSON importer, speedscope):
 *
 *   {"traceEvents":[
 *   {"ph":"M","name":"thread_name","pid":4242,"tid":4250,"args":{"name":"tokio-runtime-w"}},
 *   {"ph":"X","cat":"poll","name":"app::handler","pid":4242,"tid":4250,
 *    "ts":1234.567,"dur":8.250,"args":{"task":42,"poll":3,"result":"Pending"}},
 *   {"ph":"b","cat":"task","name":"app::handler","id2":{"local":"0x2a"},"pid":4242,...},
 *   ...],"displayTimeUnit":"ns"}
 *
 * Polls are complete ("X") events on the thread that ran them; a task's
 * life is nestable async events ("b"/"e", one id per task: they overlap
 * freely, unlike B/E) with its scheduled / running / idle segments inside;
 * wakes and spawns are thread instants ("i"); flows ("s"/"f", bp "e") lead
 * from a wake or spawn made inside a poll to the poll it caused.
 * Timestamps are CLOCK_MONOTONIC in µs with ns decimals.
 */
#ifndef ASYNCSCOPE_OUT_CHROME_H
#define ASYNCSCOPE_OUT_CHROME_H

#include <stdio.h>

struct timeline;

/* Writes the finished timeline to f.  0, or -errno (-EIO: f failed). */
int out_chrome__write(FILE *f, const struct timeline *tl);

#endif
