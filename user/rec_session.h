/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The recording side of `asyncscope record`: describes the traced process
 * in a header, turns drained records into chunks, and sends them either
 * to a file (-o, written as it goes) or to the flight recorder's bounded
 * window, which dump() writes to a new timestamped file on request.
 * Reads /proc for thread names; knows nothing of BPF.
 */
#ifndef ASYNCSCOPE_REC_SESSION_H
#define ASYNCSCOPE_REC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "asyncscope.h"
#include "tokio_bin.h"

struct target;

struct rec_session_opts {
	size_t sz;			/* sizeof(struct rec_session_opts) */
	const char *path;		/* the recording (or, with a window, the final window); NULL: none */
	int force;			/* overwrite path */
	uint64_t window_bytes;		/* flight recorder: memory bound; 0: record everything to path */
	uint64_t window_ns;		/* flight recorder: age bound; 0: none */
	const char *dump_dir;		/* where dumps go; NULL: the current directory */
	uint64_t chunk_ns;		/* cut a chunk at least this often; 0: 100 ms */
};

/* A poll running at the end or at a dump (from the BPF per-thread map). */
struct rec_running_poll {
	uint32_t tid;
	struct as_poll_frame frame;
};

/* What only the tracer knows, at the end or at a dump. */
struct rec_session_end {
	uint64_t end_ns;
	const uint64_t *counters;	/* AS_CNT_NR summed kernel counters, or NULL */
	uint64_t received;		/* records drained so far */
	int target_exited;
	const struct rec_running_poll *in_progress;	/* polls running now */
	size_t nr_in_progress;
};

struct rec_session;

/*
 * Opens the output file at once (never following a symlink, 0600, no
 * overwrite without force), so a long trace cannot end in "cannot write".
 * NULL with errno set and a message printed.
 */
struct rec_session *rec_session__new(const struct rec_session_opts *opts);
void rec_session__free(struct rec_session *s);	/* NULL-safe; an unfinished file stays readable */

/* Header and process frames; call once attached. */
int rec_session__begin(struct rec_session *s, const struct target *tgt,
		       const bool hooks[HOOK__MAX], uint64_t start_ns, uint64_t first_task_id);

/* One drained record.  0, or -errno once the file cannot be written (reported once). */
int rec_session__add(struct rec_session *s, const void *rec, size_t size);

/* After each drain: cut the chunk when due, expire the window. */
int rec_session__tick(struct rec_session *s, uint64_t now_ns);

/* Flight recorder: write the window now to a new file; its path into path. */
int rec_session__dump(struct rec_session *s, const struct rec_session_end *end,
		      char *path, size_t size);

/*
 * The end: a recording gets its trailer; a window is written to opts.path
 * if one was given.  0 or -errno (message printed).
 */
int rec_session__finish(struct rec_session *s, const struct rec_session_end *end);

/* One line on stderr: what was written, or what the window holds. */
void rec_session__summary(const struct rec_session *s, FILE *out);

bool rec_session__is_window(const struct rec_session *s);
const char *rec_session__path(const struct rec_session *s);

#endif
