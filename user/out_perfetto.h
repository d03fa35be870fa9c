/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A timeline as a Perfetto trace (ui.perfetto.dev, trace_processor): the
 * packets of a perfetto.protos.Trace (proto/perfetto_trace.proto), one
 * sequence, timestamps on CLOCK_MONOTONIC.
 *
 *   process "server" 4242
 *     thread "tokio-runtime-w" 4250   poll slices: name = future type,
 *                                     args task, poll, result; wake, self-wake
 *                                     and spawn instants; flows out of those
 *     task 42 app::handler            the task's life: one slice from creation
 *                                     to close (args kind, origin, location...),
 *                                     in it scheduled / running / idle; its
 *                                     socket operations as instants (bytes or
 *                                     error, fd, socket)
 *
 * With the timeline's io_stats (timeline__set_io), wakes are named by their
 * source ("io wake", "timer wake", ...) and carry it as an argument.
 */
#ifndef ASYNCSCOPE_OUT_PERFETTO_H
#define ASYNCSCOPE_OUT_PERFETTO_H

#include <stdio.h>

struct timeline;

/* The packet sequence every packet belongs to (trusted_packet_sequence_id). */
#define OUT_PERFETTO_SEQ_ID	1

/* Writes the finished timeline to f.  0, or -errno (-EIO: f failed). */
int out_perfetto__write(FILE *f, const struct timeline *tl);

#endif
