/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a uprobe costs at an x86-64 instruction, and where in a function's
 * entry block a cheaper probe site is.  Mirrors the Linux 6.18 x86 uprobe
 * code: a 5-byte nop is optimised (call into a trampoline), push/jmp/jcc/
 * call/nop are emulated after the int3, anything else is single-stepped
 * out of line (about 20x the cost on the machines we measured).
 */
#ifndef ASYNCSCOPE_X86_SITE_H
#define ASYNCSCOPE_X86_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "tokio_bin.h"	/* enum site_class */

/* Argument registers a hook reads at its probe site (SysV order). */
enum x86_arg_reg {
	X86_ARG_RDI = 1u << 0,
	X86_ARG_RSI = 1u << 1,
	X86_ARG_RDX = 1u << 2,
	X86_ARG_RCX = 1u << 3,
	X86_ARG_R8 = 1u << 4,
	X86_ARG_R9 = 1u << 5,
};

/*
 * Class of the instruction at code (len bytes available, located at vaddr,
 * which matters for a nop5 crossing a page).  Returns the instruction's
 * length, or -EINVAL when it does not decode.
 */
int x86_site__classify(const uint8_t *code, size_t len, uint64_t vaddr,
		       enum site_class *cls);

/* "push %rbp" (AT&T syntax, like objdump) into buf; returns the length or -EINVAL. */
int x86_site__format(const uint8_t *code, size_t len, uint64_t vaddr, char *buf,
		     size_t buflen);

struct x86_site {
	uint64_t off;		/* from the function start; 0 when not moved */
	enum site_class cls;	/* class of the instruction at off */
	uint8_t len;		/* its length */
	const char *why;	/* static: why the site stayed at entry, or NULL */
};

/*
 * Where to put an entry probe in the function whose code (size bytes) starts
 * at func_vaddr, for a hook that reads the registers in arg_regs (a mask of
 * enum x86_arg_reg).  The entry stays when it is not single-stepped.
 * Otherwise the first non-single-step instruction of the straight-line entry
 * block is taken if it runs exactly once per call and no argument register
 * was written before it: stop after the first branch, call or return (which
 * may itself be the site), refuse any address in (entry, site] that a direct
 * branch of the function targets, and refuse to move at all when the
 * function has an indirect jump that is not a tail call (a jump table whose
 * targets are unknown).  Returns 0, or -EINVAL if the entry does not decode.
 */
int x86_site__find(const uint8_t *code, size_t size, uint64_t func_vaddr,
		   uint32_t arg_regs, struct x86_site *site);

/*
 * Targets of the direct calls and jumps in code[0..size) at vaddr, in
 * instruction order (duplicates kept): stores up to max, returns how many.
 */
size_t x86_site__direct_targets(const uint8_t *code, size_t size, uint64_t vaddr,
				uint64_t *targets, size_t max);

#endif
