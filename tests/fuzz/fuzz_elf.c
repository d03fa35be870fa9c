// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An ELF file, untrusted, through the symbol reader: elf_file (symbols,
 * segments, relocations, data sections, each looked up with the file's own
 * addresses) and tokio_bin (hooks, probe sites, vtables, type names), then
 * inspect's outputs.  The bytes go to a memfd opened by path, the way the
 * product opens a binary on disk or /proc/PID/exe.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_file.h"
#include "fuzz.h"
#include "hooks.h"
#include "tokio_bin.h"

static int mfd = -1;
static char mpath[64];
static volatile uint8_t sink;	/* keeps the reads of on_data() */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	mfd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (mfd < 0)
		abort();
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	return 0;
}

static int on_object(const char *name, uint64_t vaddr, uint64_t size, void *ctx)
{
	const struct elf_file *ef = ctx;
	uint8_t buf[16];

	FUZZ_CHECK(name);
	elf_file__read(ef, vaddr, buf, size < sizeof(buf) ? size : sizeof(buf));
	return 0;
}

static int on_data(const char *name, uint64_t addr, const void *data, size_t size, void *ctx)
{
	const struct elf_file *ef = ctx;

	(void)name;
	/* the data handed out must be readable in full */
	for (size_t i = 0; i < size; i += 97)
		sink += ((const uint8_t *)data)[i];
	if (size)
		sink += ((const uint8_t *)data)[size - 1];
	elf_file__ptr(ef, addr, size);
	return 0;
}

/* Every lookup of elf_file.h, with the addresses the file itself holds. */
static void walk_elf(void)
{
	struct elf_file *ef = elf_file__open(mpath);
	const struct elf_sym *syms, *s;
	const struct elf_seg *segs;
	const struct elf_rel *rels;
	uint64_t offs[4], off;
	size_t n, nsegs, nrels, cnt;
	uint8_t buf[32];

	if (!ef)
		return;
	elf_file__build_id(ef);
	syms = elf_file__syms(ef, &n);
	for (size_t i = 0; i < n && i < 4096; i++) {
		FUZZ_CHECK(syms[i].name);
		FUZZ_CHECK(i == 0 || syms[i - 1].value <= syms[i].value);
		s = elf_file__syms_at(ef, syms[i].value, &cnt);
		FUZZ_CHECK(s && cnt >= 1 && s->value == syms[i].value);
		s = elf_file__sym_by_addr(ef, syms[i].value + syms[i].size / 2);
		elf_file__read(ef, syms[i].value, buf, sizeof(buf));
		elf_file__ptr(ef, syms[i].value, syms[i].size);
	}
	segs = elf_file__segs(ef, &nsegs);
	for (size_t i = 0; i < nsegs; i++) {
		if (!elf_file__vaddr_to_off(ef, segs[i].vaddr, &off))
			elf_file__read(ef, segs[i].vaddr, buf, sizeof(buf));
		elf_file__ptr(ef, segs[i].vaddr, segs[i].filesz);
		elf_file__vaddr_to_off(ef, segs[i].vaddr + segs[i].memsz - 1, &off);
	}
	rels = elf_file__relatives(ef, &nrels);
	for (size_t i = 0; i < nrels && i < 4096; i++) {
		FUZZ_CHECK(i == 0 || rels[i - 1].offset <= rels[i].offset);
		FUZZ_CHECK(elf_file__relative_at(ef, rels[i].offset));
		FUZZ_CHECK(elf_file__relatives_to(ef, rels[i].addend, offs, 4) >= 1);
	}
	elf_file__for_each_object(ef, on_object, ef);
	elf_file__for_each_data(ef, on_data, ef);
	elf_file__free(ef);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokio_bin *tb;
	bool enabled[HOOK__MAX];
	char err[512];

	if (ftruncate(mfd, 0) || pwrite(mfd, data, size, 0) != (ssize_t)size)
		abort();

	walk_elf();

	tb = tokio_bin__open(mpath, err, sizeof(err));
	if (!tb) {
		FUZZ_CHECK(errno != 0);
		return 0;
	}
	FUZZ_CHECK(tokio_bin__count(tb, HOOK_POLL) > 0);
	tokio_bin__print(tb, fuzz_null);
	tokio_bin__print_json(tb, fuzz_null);
	hooks__defaults(tb, enabled);
	hooks__print(tb, NULL, fuzz_null);
	hooks__print(tb, enabled, fuzz_null);
	hooks__parse("all,-schedule", tb, enabled, err, sizeof(err));
	tokio_bin__free(tb);
	return 0;
}
