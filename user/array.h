/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Growing a malloc'ed array: the one helper every module shares. */
#ifndef ASYNCSCOPE_ARRAY_H
#define ASYNCSCOPE_ARRAY_H

#include <stddef.h>

/*
 * Make room for need elements of elem bytes in *arr (capacity *cap),
 * doubling.  0, or -ENOMEM (also on size overflow) with *arr untouched.
 */
int array__grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
