// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Machine code, untrusted (the bytes of a function in the binary): the
 * probe-site classifier, the formatter, the search for a cheaper site and
 * the branch-target scan.
 *
 * Input: 8 bytes of address, 1 byte of argument registers, then the code,
 * copied to a buffer of exactly its size so that reading past it is caught.
 */
#include <string.h>

#include "fuzz.h"
#include "x86_site.h"

#define MAX_TARGETS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t vaddr, targets[MAX_TARGETS];
	enum site_class cls;
	struct x86_site site;
	uint32_t regs;
	uint8_t *code;
	char text[160];
	size_t len;
	int n;

	if (size < 9)
		return 0;
	vaddr = fuzz_le64(data);
	regs = data[8] & 0x3f;
	len = size - 9;
	code = malloc(len ? len : 1);
	FUZZ_CHECK(code);
	memcpy(code, data + 9, len);

	n = x86_site__classify(code, len, vaddr, &cls);
	FUZZ_CHECK(n < 0 || (n > 0 && (size_t)n <= len && cls <= SITE_REFUSED));
	n = x86_site__format(code, len, vaddr, text, sizeof(text));
	FUZZ_CHECK(n < 0 || memchr(text, 0, sizeof(text)));
	if (!x86_site__find(code, len, vaddr, regs, &site))
		FUZZ_CHECK(site.off < len && site.len > 0 && site.off + site.len <= len);
	x86_site__direct_targets(code, len, vaddr, targets, MAX_TARGETS);
	free(code);
	return 0;
}
