/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rust symbol names, through binutils' libiberty (legacy `_ZN...17h<hash>E`
 * and v0 `_R...`), plus the two string operations the tokio resolver needs:
 * the path without generic arguments, and the generic arguments themselves.
 */
#ifndef ASYNCSCOPE_DEMANGLE_H
#define ASYNCSCOPE_DEMANGLE_H

#include <stddef.h>

/*
 * Demangled name without the legacy `::h<hash>` and the `.llvm.<N>` suffix
 * LLVM appends to promoted locals; generic arguments are kept:
 *   _ZN5tokio7runtime4task3raw4poll17h0bb917c669f07b65E.llvm.43 ->
 *     "tokio::runtime::task::raw::poll"
 *   _RINvNtNtNtCs..._5tokio7runtime4task3raw4pollI... ->
 *     "tokio::runtime::task::raw::poll::<targets::Counted<..>, alloc::sync::Arc<..>>"
 * Returns a malloc'd string, or NULL with errno EINVAL (not a Rust symbol)
 * or ENOMEM.
 */
char *demangle__rust(const char *mangled);

/*
 * The path with every generic argument list removed, malloc'd (NULL on
 * ENOMEM or EINVAL for unbalanced brackets):
 *   "tokio::runtime::task::list::OwnedTasks<S>::bind"  -> "...::OwnedTasks::bind"
 *   "<tokio::runtime::task::harness::Harness<F, S>>::complete"
 *                                                      -> "...::Harness::complete"
 *   "tokio::runtime::task::raw::poll::<T, S>"          -> "tokio::runtime::task::raw::poll"
 * A qualified self type with a trait (`<A as B>::f`) is kept whole.
 */
char *demangle__path(const char *name);

/*
 * Split the generic argument list opening at open (which must point at '<')
 * into its top-level arguments, each malloc'd and trimmed, stored in
 * args[0..max).  Returns the number of arguments (which may exceed max; the
 * extra ones are not stored), or -EINVAL (unbalanced) / -ENOMEM.  The
 * caller frees the stored strings.
 */
int demangle__generic_args(const char *open, char **args, size_t max);

#endif
