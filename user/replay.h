/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A recording replayed into a correlator, exactly as `record` fed its own
 * during the live trace, so `report` prints what the live run printed.
 * Every item also goes to an optional callback (convert feeds its
 * exporters from it).
 */
#ifndef ASYNCSCOPE_REPLAY_H
#define ASYNCSCOPE_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "asyncscope.h"
#include "rec_reader.h"
#include "report.h"

struct correlator;
struct io_stats;

typedef int (*replay_item_fn)(void *ctx, const struct rec_item *it);

struct replay_opts {
	size_t sz;			/* sizeof(struct replay_opts) */
	size_t max_tasks;		/* as record --max-tasks; 0: no limit */
	replay_item_fn on_item;		/* NULL: none; a non-zero return stops the replay */
	void *ctx;
};

struct replay {
	struct correlator *corr;
	struct io_stats *io;		/* sockets, waits, wake sources (meta.io) */
	struct report_meta meta;	/* for out_table / out_json */
	uint64_t counters[AS_CNT_NR];
	int complete;			/* the trailer was read */
	int window;			/* a flight-recorder window */
	uint64_t window_start_ns;
	uint64_t evicted_chunks;
	uint64_t trailer_chunks;		/* chunks the trailer says were written */
	int damage;			/* 0, or the reader's error (-EBADMSG, -ENODATA, -EIO) */
	char msg[320];			/* what was wrong, where */
	char *exe;
	char *tokio_version;
	struct rec_reader_stats stats;
};

/*
 * Replay the recording at path.  Returns 0 with *out set for a whole
 * recording; a negative errno with *out set when it is damaged (all that
 * came before the damage is in *out, msg says what and where); a negative
 * errno with *out NULL when there is nothing to report (cannot open it,
 * not a recording), msg in errbuf.
 */
int replay__file(const char *path, const struct replay_opts *opts, struct replay **out,
		 char *errbuf, size_t errlen);
int replay__reader(struct rec_reader *rd, const struct replay_opts *opts, struct replay **out,
		   char *errbuf, size_t errlen);
void replay__free(struct replay *r);	/* NULL-safe */

/* What the report alone does not say: a window, lost chunks, damage. */
void replay__print_notes(const struct replay *r, FILE *out);

/*
 * A replay_item_fn (ctx: a struct timeline) that gives the timeline every
 * item as convert needs it: names, records, polls still running.  Returns
 * the timeline's error (-EINVAL for a record it refused, -ENOMEM, -E2BIG).
 */
int replay__timeline_item(void *ctx, const struct rec_item *it);

#endif
