/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Logging: everything here goes to stderr; data goes to stdout or a file. */
#ifndef ASYNCSCOPE_LOG_H
#define ASYNCSCOPE_LOG_H

#include <stdarg.h>

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

/* Messages at or below this level are printed (-v raises it). */
extern int log_verbosity;

void log_printf(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Messages are lower-case, one line, with context: "elf: cannot open '%s': %s" */
#define pr_warn(...)	log_printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...)	log_printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	log_printf(LOG_DEBUG, __VA_ARGS__)

#endif
