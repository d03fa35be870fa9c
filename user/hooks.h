/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which hooks to attach.  By default every hook whose probe sites the
 * kernel can emulate, plus the once-per-task hooks whatever they cost;
 * a hot hook (wakes, waker clones/drops, schedule) that would be
 * single-stepped (~12 us a hit here) is left out unless asked for.
 */
#ifndef ASYNCSCOPE_HOOKS_H
#define ASYNCSCOPE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "tokio_bin.h"

/* Why a hook is on or off by default, for `inspect`. */
const char *hooks__default_reason(const struct tokio_bin *tb, enum hook_kind kind, bool *on);

void hooks__defaults(const struct tokio_bin *tb, bool enabled[HOOK__MAX]);

/*
 * Apply a --hooks spec: a comma list of "default", "all", "none", NAME,
 * +NAME, -NAME (names as hook_kind_name gives them).  0 or -EINVAL with a
 * message in err.  With tb NULL only the names are checked.
 */
int hooks__parse(const char *spec, const struct tokio_bin *tb, bool enabled[HOOK__MAX],
		 char *err, size_t errlen);

void hooks__print(const struct tokio_bin *tb, const bool enabled[HOOK__MAX], FILE *out);

#endif
