// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "x86_site.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void expect_class(const uint8_t *code, size_t len, uint64_t vaddr, enum site_class want,
			 int want_len)
{
	enum site_class cls = (enum site_class)-1;

	assert_int_equal(x86_site__classify(code, len, vaddr, &cls), want_len);
	assert_int_equal(cls, want);
}

static void test_optimized(void **state)
{
	(void)state;
	expect_class(BYTES(0x0f, 0x1f, 0x44, 0x00, 0x00), 0x1000, SITE_OPTIMIZED, 5);
	/* clang's -fpatchable-function-entry nop5, measured optimised too */
	expect_class(BYTES(0x0f, 0x1f, 0x44, 0x00, 0x08), 0x1000, SITE_OPTIMIZED, 5);
	/* across a page the kernel cannot patch it: the canonical one is emulated */
	expect_class(BYTES(0x0f, 0x1f, 0x44, 0x00, 0x00), 0x1ffc, SITE_EMULATED, 5);
	expect_class(BYTES(0x0f, 0x1f, 0x44, 0x00, 0x08), 0x1ffc, SITE_SINGLE_STEP, 5);
	expect_class(BYTES(0x0f, 0x1f, 0x44, 0x00, 0x00), 0x1ffb, SITE_OPTIMIZED, 5);
}

static void test_emulated(void **state)
{
	(void)state;
	expect_class(BYTES(0x55), 0, SITE_EMULATED, 1);				/* push %rbp */
	expect_class(BYTES(0x53, 0x5b), 0, SITE_EMULATED, 1);			/* push %rbx */
	expect_class(BYTES(0x41, 0x57), 0, SITE_EMULATED, 2);			/* push %r15 */
	expect_class(BYTES(0xe8, 0, 0, 0, 0), 0, SITE_EMULATED, 5);		/* call rel32 */
	expect_class(BYTES(0xe9, 0, 0, 0, 0), 0, SITE_EMULATED, 5);		/* jmp rel32 */
	expect_class(BYTES(0xeb, 0x00), 0, SITE_EMULATED, 2);			/* jmp rel8 */
	expect_class(BYTES(0x74, 0x10), 0, SITE_EMULATED, 2);			/* je rel8 */
	expect_class(BYTES(0x7f, 0x10), 0, SITE_EMULATED, 2);			/* jg rel8 */
	expect_class(BYTES(0x0f, 0x85, 0, 0, 0, 0), 0, SITE_EMULATED, 6);	/* jne rel32 */
	/* exact nops with a 0x66 prefix: emulated (bench/probe_cost) */
	expect_class(BYTES(0x66, 0x90), 0, SITE_EMULATED, 2);
	expect_class(BYTES(0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00), 0, SITE_EMULATED, 6);
	expect_class(BYTES(0x90), 0, SITE_EMULATED, 1);
	expect_class(BYTES(0x0f, 0x1f, 0x00), 0, SITE_EMULATED, 3);
	expect_class(BYTES(0x0f, 0x1f, 0x40, 0x00), 0, SITE_EMULATED, 4);
	expect_class(BYTES(0x0f, 0x1f, 0x80, 0, 0, 0, 0), 0, SITE_EMULATED, 7);
	expect_class(BYTES(0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0), 0, SITE_EMULATED, 8);
}

static void test_single_step(void **state)
{
	(void)state;
	expect_class(BYTES(0xc3), 0, SITE_SINGLE_STEP, 1);				/* ret */
	expect_class(BYTES(0x48, 0x89, 0xe5), 0, SITE_SINGLE_STEP, 3);		/* mov */
	expect_class(BYTES(0x48, 0x83, 0xec, 0x08), 0, SITE_SINGLE_STEP, 4);	/* sub */
	expect_class(BYTES(0x48, 0x8d, 0x05, 0, 0, 0, 0), 0, SITE_SINGLE_STEP, 7); /* lea */
	expect_class(BYTES(0xf3, 0x0f, 0x1e, 0xfa), 0, SITE_SINGLE_STEP, 4);	/* endbr64 */
	expect_class(BYTES(0x48, 0x85, 0xff), 0, SITE_SINGLE_STEP, 3);		/* test */
	expect_class(BYTES(0xff, 0xe0), 0, SITE_SINGLE_STEP, 2);			/* jmp *%rax */
	expect_class(BYTES(0xff, 0x15, 0, 0, 0, 0), 0, SITE_SINGLE_STEP, 6);	/* call *mem */
	expect_class(BYTES(0x6a, 0x00), 0, SITE_SINGLE_STEP, 2);			/* push imm */
	expect_class(BYTES(0x66, 0x50), 0, SITE_SINGLE_STEP, 2);			/* pushw */
	expect_class(BYTES(0x48, 0x50), 0, SITE_SINGLE_STEP, 2);			/* REX.W push */
	expect_class(BYTES(0x66, 0x0f, 0x85, 0, 0), 0, SITE_SINGLE_STEP, 5);	/* jne rel16 */
	expect_class(BYTES(0xf3, 0x90), 0, SITE_SINGLE_STEP, 2);			/* pause */
	expect_class(BYTES(0x41, 0x90), 0, SITE_SINGLE_STEP, 2);			/* xchg %eax,%r8d */
	/* nops the kernel does not recognise exactly (measured) */
	expect_class(BYTES(0x0f, 0x1f, 0x40, 0x08), 0, SITE_SINGLE_STEP, 4);
	expect_class(BYTES(0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0), 0, SITE_SINGLE_STEP, 9);
}

/* bench/probe_cost: attaching fails with ENOTSUPP on these */
static void test_refused(void **state)
{
	(void)state;
	expect_class(BYTES(0xf0, 0x48, 0x0f, 0xc1, 0x07), 0, SITE_REFUSED, 5);	/* lock xadd */
	expect_class(BYTES(0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0), 0, SITE_REFUSED, 10);
	/* LLVM's loop padding */
	expect_class(BYTES(0x66, 0x66, 0x66, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0),
		     0, SITE_REFUSED, 14);
	expect_class(BYTES(0x2e, 0x74, 0x10), 0, SITE_REFUSED, 3);		/* hinted je */
}

static void test_bad_input(void **state)
{
	enum site_class cls;

	(void)state;
	assert_int_equal(x86_site__classify(BYTES(0x06), 0, &cls), -EINVAL);	/* no push %es in 64-bit */
	assert_int_equal(x86_site__classify(BYTES(0xe8, 0x00), 0, &cls), -EINVAL);	/* truncated */
}

static void expect_find(const uint8_t *code, size_t len, uint32_t args, uint64_t off,
			enum site_class cls, const char *why_part)
{
	struct x86_site s;

	assert_int_equal(x86_site__find(code, len, 0x401000, args, &s), 0);
	assert_int_equal(s.off, off);
	assert_int_equal(s.cls, cls);
	if (why_part) {
		assert_non_null(s.why);
		assert_non_null(strstr(s.why, why_part));
	} else {
		assert_null(s.why);
	}
}

static void test_find_keeps_cheap_entry(void **state)
{
	(void)state;
	expect_find(BYTES(0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3), X86_ARG_RDI, 0, SITE_EMULATED, NULL);
	expect_find(BYTES(0x0f, 0x1f, 0x44, 0, 0, 0xc3), X86_ARG_RDI, 0, SITE_OPTIMIZED, NULL);
}

static void test_find_moves(void **state)
{
	(void)state;
	/* sub $8,%rsp; jne +0; ... -> the jne */
	expect_find(BYTES(0x48, 0x83, 0xec, 0x08, 0x75, 0x00, 0xc3), X86_ARG_RDI, 4,
		    SITE_EMULATED, NULL);
	/* endbr64; push %rbp */
	expect_find(BYTES(0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x5d, 0xc3), X86_ARG_RDI, 4,
		    SITE_EMULATED, NULL);
	/* sub $8,%rsp; nop5 */
	expect_find(BYTES(0x48, 0x83, 0xec, 0x08, 0x0f, 0x1f, 0x44, 0, 0, 0xc3), X86_ARG_RDI, 4,
		    SITE_OPTIMIZED, NULL);
	/* test %rdi,%rdi; je: the branch itself is the site */
	expect_find(BYTES(0x48, 0x85, 0xff, 0x74, 0x01, 0xc3, 0xc3), X86_ARG_RDI, 3,
		    SITE_EMULATED, NULL);
	/* mov %rax,%rbx; call: the call is the site */
	expect_find(BYTES(0x48, 0x89, 0xc3, 0xe8, 0, 0, 0, 0, 0xc3), X86_ARG_RDI, 3,
		    SITE_EMULATED, NULL);
	/* a branch to after the site is fine: sub; jne +2; nop; nop; ret */
	expect_find(BYTES(0x48, 0x83, 0xec, 0x08, 0x75, 0x02, 0x90, 0x90, 0xc3), X86_ARG_RDI, 4,
		    SITE_EMULATED, NULL);
	/* mov 0x10(%rdi),%rax; push; jmp *8(%rax): a tail call, not a jump table */
	expect_find(BYTES(0x48, 0x8b, 0x47, 0x10, 0x53, 0xff, 0x60, 0x08), X86_ARG_RDI, 4,
		    SITE_EMULATED, NULL);
}

static void test_find_respects_arg_registers(void **state)
{
	const uint8_t code[] = { 0x48, 0x89, 0xf7, 0x53, 0x5b, 0xc3 };	/* mov %rsi,%rdi; push */
	const uint8_t part[] = { 0x31, 0xff, 0x53, 0x5b, 0xc3 };		/* xor %edi,%edi; push */
	const uint8_t dl[] = { 0xb2, 0x01, 0x53, 0x5b, 0xc3 };			/* mov $1,%dl; push */
	/* mov $0,%eax; rep movsb (writes rdi, rsi, rcx implicitly); push */
	const uint8_t rep[] = { 0xb8, 0, 0, 0, 0, 0xf3, 0xa4, 0x55, 0x5d, 0xc3 };

	(void)state;
	expect_find(code, sizeof(code), X86_ARG_RDI, 0, SITE_SINGLE_STEP, "argument register");
	expect_find(code, sizeof(code), X86_ARG_RSI, 3, SITE_EMULATED, NULL);
	expect_find(part, sizeof(part), X86_ARG_RDI, 0, SITE_SINGLE_STEP, "argument register");
	expect_find(dl, sizeof(dl), X86_ARG_RCX | X86_ARG_R8 | X86_ARG_RDX, 0, SITE_SINGLE_STEP,
		    "argument register");
	expect_find(dl, sizeof(dl), X86_ARG_RCX | X86_ARG_R8, 2, SITE_EMULATED, NULL);
	expect_find(rep, sizeof(rep), X86_ARG_RCX, 0, SITE_SINGLE_STEP, "argument register");
	expect_find(rep, sizeof(rep), X86_ARG_R8 | X86_ARG_R9, 7, SITE_EMULATED, NULL);
}

static void test_find_refuses(void **state)
{
	(void)state;
	/* mov $1,%eax; loop: push %rbx; pop %rbx; dec %eax; jne loop */
	expect_find(BYTES(0xb8, 1, 0, 0, 0, 0x53, 0x5b, 0xff, 0xc8, 0x75, 0xfa, 0xc3),
		    X86_ARG_RDI, 0, SITE_SINGLE_STEP, "loop head");
	/* lea; push; jmp *%rax: a jump table somewhere, targets unknown */
	expect_find(BYTES(0x48, 0x8d, 0x05, 0, 0, 0, 0, 0x53, 0xff, 0xe0), X86_ARG_RDI, 0,
		    SITE_SINGLE_STEP, "jump table");
	/* mov; ret; push: the entry block ends first */
	expect_find(BYTES(0x48, 0x89, 0xf8, 0xc3, 0x55), X86_ARG_RDI, 0, SITE_SINGLE_STEP,
		    "first branch");
	/* only single-step instructions */
	expect_find(BYTES(0x48, 0x89, 0xf8, 0x48, 0x89, 0xc1), X86_ARG_RDI, 0, SITE_SINGLE_STEP,
		    "entry block");
}

static void test_direct_targets(void **state)
{
	/* call +0; jmp +0; jmp *%rax; je -2 */
	const uint8_t code[] = { 0xe8, 0, 0, 0, 0, 0xeb, 0x00, 0xff, 0xe0, 0x74, 0xfe };
	uint64_t t[4] = { 0 };

	(void)state;
	assert_int_equal(x86_site__direct_targets(code, sizeof(code), 0x1000, t, 4), 3);
	assert_int_equal(t[0], 0x1005);
	assert_int_equal(t[1], 0x1007);
	assert_int_equal(t[2], 0x1009);
	assert_int_equal(x86_site__direct_targets(code, sizeof(code), 0x1000, t, 1), 3);
}

static void test_format_and_names(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(x86_site__format(BYTES(0x55), 0, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "pushq %rbp");
	assert_int_equal(x86_site__format(BYTES(0xe9, 0x10, 0, 0, 0), 0x1000, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "jmp 0x1015");
	assert_string_equal(site_class_name(SITE_OPTIMIZED), "optimized");
	assert_string_equal(site_class_name(SITE_EMULATED), "emulated");
	assert_string_equal(site_class_name(SITE_SINGLE_STEP), "single-step");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_optimized),
		cmocka_unit_test(test_emulated),
		cmocka_unit_test(test_single_step),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_find_keeps_cheap_entry),
		cmocka_unit_test(test_find_moves),
		cmocka_unit_test(test_find_respects_arg_registers),
		cmocka_unit_test(test_find_refuses),
		cmocka_unit_test(test_direct_targets),
		cmocka_unit_test(test_format_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
