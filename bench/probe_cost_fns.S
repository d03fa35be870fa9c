/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Functions for bench/probe_cost whose FIRST instruction is the one under
 * test.  Every probed instruction is spelled out with .byte so that the
 * encoding is exactly the one in the table of probe_cost.c (the assembler
 * would otherwise pick its own nop and jump forms); probe_cost.c compares
 * the bytes in memory with that table before every measurement.
 *
 * Branches jump over a ud2 (0f 0b), so an emulation that went the wrong way
 * kills the bench with SIGILL instead of going unnoticed.
 *
 * Calling convention of every pc_fn_*: called by pc_run() below with
 * %rdi = pointer to a scratch u64, %rax = 1 and ZF set as the row asks.
 * The lock xadd row thus adds 1 to the scratch word per call, which lets
 * probe_cost.c check that the single-stepped copy really ran once per hit.
 */

	.text

.macro PC_FN name
	.globl	\name
	.type	\name, @function
	/* one cache line each, so no probed instruction crosses a page */
	.p2align 6
\name:
.endm

.macro PC_END name
	.size	\name, . - \name
.endm

/*
 * void pc_run(void (*fn)(void), u64 n, u64 *scratch, u64 zf_clear)
 *
 * Calls fn n times.  Written in asm so that the flags at fn's entry are
 * known (the jcc rows need ZF): before each call ZF = (zf_clear == 0).
 */
PC_FN pc_run
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14			/* five pushes: %rsp 16-aligned at call */
	mov	%rdi, %rbx
	mov	%rsi, %r12
	mov	%rdx, %r13
	mov	%rcx, %r14
	test	%r12, %r12
	jz	2f
1:	mov	%r13, %rdi
	mov	$1, %eax
	test	%r14, %r14
	call	*%rbx
	dec	%r12
	jnz	1b
2:	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
PC_END pc_run

/* ---- nops, every length the x86 manual recommends, plus prefixed forms */

PC_FN pc_fn_nop1			/* nop */
	.byte	0x90
	ret
PC_END pc_fn_nop1

PC_FN pc_fn_nop2			/* xchg %ax,%ax (66 90) */
	.byte	0x66, 0x90
	ret
PC_END pc_fn_nop2

PC_FN pc_fn_nop3			/* nopl (%rax) */
	.byte	0x0f, 0x1f, 0x00
	ret
PC_END pc_fn_nop3

PC_FN pc_fn_nop4			/* nopl 0x0(%rax) */
	.byte	0x0f, 0x1f, 0x40, 0x00
	ret
PC_END pc_fn_nop4

PC_FN pc_fn_nop5			/* nopl 0x0(%rax,%rax,1) */
	.byte	0x0f, 0x1f, 0x44, 0x00, 0x00
	ret
PC_END pc_fn_nop5

/*
 * The same nops with a non-zero displacement: same length, same meaning,
 * different bytes (clang's -fpatchable-function-entry=5 emits the nop5 one).
 */
PC_FN pc_fn_nop4_disp8			/* nopl 0x8(%rax) */
	.byte	0x0f, 0x1f, 0x40, 0x08
	ret
PC_END pc_fn_nop4_disp8

PC_FN pc_fn_nop5_disp8			/* nopl 0x8(%rax,%rax,1) */
	.byte	0x0f, 0x1f, 0x44, 0x00, 0x08
	ret
PC_END pc_fn_nop5_disp8

PC_FN pc_fn_nop6			/* nopw 0x0(%rax,%rax,1) */
	.byte	0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00
	ret
PC_END pc_fn_nop6

PC_FN pc_fn_nop7			/* nopl 0x0(%rax) with disp32 */
	.byte	0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_nop7

PC_FN pc_fn_nop8			/* nopl 0x0(%rax,%rax,1) with disp32 */
	.byte	0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_nop8

PC_FN pc_fn_nop9			/* nopw 0x0(%rax,%rax,1) with disp32 */
	.byte	0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_nop9

PC_FN pc_fn_nop10			/* cs nopw 0x0(%rax,%rax,1) */
	.byte	0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_nop10

PC_FN pc_fn_nop11			/* data16 cs nopw 0x0(%rax,%rax,1) */
	.byte	0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_nop11

/* ---- pushes */

PC_FN pc_fn_push_rbx			/* push %rbx */
	.byte	0x53
	pop	%rbx
	ret
PC_END pc_fn_push_rbx

PC_FN pc_fn_push_r15			/* push %r15 */
	.byte	0x41, 0x57
	pop	%r15
	ret
PC_END pc_fn_push_r15

/* ---- branches: the target is always the ret after a ud2 guard */

PC_FN pc_fn_jmp32			/* jmp rel32 */
	.byte	0xe9, 0x02, 0x00, 0x00, 0x00
	ud2
	ret
PC_END pc_fn_jmp32

PC_FN pc_fn_jmp8			/* jmp rel8 */
	.byte	0xeb, 0x02
	ud2
	ret
PC_END pc_fn_jmp8

/* taken forms: "j<cc> +2; ud2; ret" */
PC_FN pc_fn_je8_taken			/* je rel8, called with ZF=1 */
	.byte	0x74, 0x02
	ud2
	ret
PC_END pc_fn_je8_taken

PC_FN pc_fn_jne8_taken			/* jne rel8, called with ZF=0 */
	.byte	0x75, 0x02
	ud2
	ret
PC_END pc_fn_jne8_taken

PC_FN pc_fn_je32_taken			/* je rel32, called with ZF=1 */
	.byte	0x0f, 0x84, 0x02, 0x00, 0x00, 0x00
	ud2
	ret
PC_END pc_fn_je32_taken

/* not-taken forms: "j<cc> +1; ret; ud2" */
PC_FN pc_fn_je8_not			/* je rel8, called with ZF=0 */
	.byte	0x74, 0x01
	ret
	ud2
PC_END pc_fn_je8_not

PC_FN pc_fn_jne8_not			/* jne rel8, called with ZF=1 */
	.byte	0x75, 0x01
	ret
	ud2
PC_END pc_fn_jne8_not

PC_FN pc_fn_call32			/* call rel32 to the second ret */
	.byte	0xe8, 0x01, 0x00, 0x00, 0x00
	ret
	ret
PC_END pc_fn_call32

/* ---- ordinary prologue instructions */

PC_FN pc_fn_mov_rdi_rax			/* mov %rdi,%rax */
	.byte	0x48, 0x89, 0xf8
	ret
PC_END pc_fn_mov_rdi_rax

PC_FN pc_fn_mov_imm_rax			/* mov $0x2a,%rax */
	.byte	0x48, 0xc7, 0xc0, 0x2a, 0x00, 0x00, 0x00
	ret
PC_END pc_fn_mov_imm_rax

PC_FN pc_fn_sub_rsp			/* sub $0x18,%rsp */
	.byte	0x48, 0x83, 0xec, 0x18
	add	$0x18, %rsp
	ret
PC_END pc_fn_sub_rsp

PC_FN pc_fn_lock_xadd			/* lock xadd %rax,(%rdi) */
	.byte	0xf0, 0x48, 0x0f, 0xc1, 0x07
	ret
PC_END pc_fn_lock_xadd

PC_FN pc_fn_test_al			/* test %al,%al */
	.byte	0x84, 0xc0
	ret
PC_END pc_fn_test_al

PC_FN pc_fn_endbr64			/* endbr64 */
	.byte	0xf3, 0x0f, 0x1e, 0xfa
	ret
PC_END pc_fn_endbr64

	.section .note.GNU-stack, "", @progbits
