/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The task table, in the spirit of tokio-console's tasks view (rows sorted
 * by id, columns as wide as their content, numbers on the right):
 *
 *   pid 4242  exe /srv/app  tokio 1.38.0  duration 2.00ms  tasks 2  polls 3
 *   ID  STATE        TOTAL    BUSY   SCHED    IDLE  POLLS  WAKES  SELF  CLONES  DROPS  KIND   LOCATION          NAME
 *    1  done        20.0us  9.50us  7.00us  3.50us      2      1     0       1      1  async  src/main.rs:10:5  app::worker::{{closure}}
 *    2  scheduled  ~1.50ms   100us  1.40ms     0ns      1      2     1       0      0  ?      -                 -
 *   events: 12 received: poll 3, waker 5, spawn 1, complete 1, shutdown 0, schedule 1
 *   anomalies: late_tasks 1
 *   ~ spawn not seen (spawned before tracing started): its times start at its first record
 *
 * SELF counts wakes from inside the task's own poll.  When sockets were
 * traced (report_meta.io), the columns RX, TX, EAGAIN, IOWAIT and WAITED_ON
 * come before KIND, and the resources section (out_io.h) after the rows.
 * When the ring buffer
 * dropped records, a last line starting with "WARNING: " says how many and
 * prints the kernel's exact totals.
 */
#ifndef ASYNCSCOPE_OUT_TABLE_H
#define ASYNCSCOPE_OUT_TABLE_H

#include <stdio.h>
#include "correlator.h"
#include "report.h"

void out_table__print(FILE *out, const struct correlator *c, const struct report_meta *m);

#endif
