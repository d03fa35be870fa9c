// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * elf_file on the fixture binaries (tests/fixtures, built by make).  The
 * expected values are computed here from the section headers and .symtab
 * with libelf directly (readelf-style), never from elf_file itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "elf_file.h"

/* the Makefile passes $(OUTPUT)/fixtures */
#ifndef FIXTURE_DIR
#define FIXTURE_DIR	".output/fixtures"
#endif
#define FIX_LEGACY	FIXTURE_DIR "/tokio_legacy"
#define FIX_NOPIE	FIXTURE_DIR "/tokio_nopie"
#define FIX_STRIPPED	FIXTURE_DIR "/tokio_legacy.stripped"

#define POLL_A "_ZN5tokio7runtime4task3raw4poll17h4e0a4074d5edc44fE.llvm.15880761565571571635"
#define POLL_A_ALIAS "_ZN5tokio7runtime4task3raw4poll17h0123456789abcdefE"
#define SCHEDULE "_ZN5tokio7runtime4task3raw8schedule17h171daf91935cc557E"

/* Any .symtab symbol's value, read with libelf directly; 0 if absent. */
static uint64_t symtab_value(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	uint64_t val = 0;
	Elf *e;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	while ((scn = elf_nextscn(e, scn)) && !val) {
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		for (i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			gelf_getsym(d, i, &s);
			n = elf_strptr(e, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name)) {
				val = s.st_value;
				break;
			}
		}
	}
	elf_end(e);
	close(fd);
	return val;
}

/* File offset of vaddr through the section holding it (not the segments). */
static uint64_t section_offset(const char *path, uint64_t vaddr, char *secname, size_t len)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	uint64_t off = UINT64_MAX;
	size_t shstrndx;
	Elf *e;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type == SHT_NOBITS)
			continue;
		if (vaddr >= sh.sh_addr && vaddr < sh.sh_addr + sh.sh_size) {
			off = vaddr - sh.sh_addr + sh.sh_offset;
			snprintf(secname, len, "%s", elf_strptr(e, shstrndx, sh.sh_name));
			break;
		}
	}
	elf_end(e);
	close(fd);
	return off;
}

/* The GNU build id as hex, read straight from .note.gnu.build-id. */
static void note_build_id(const char *path, char *hex)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *e;

	hex[0] = '\0';
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	elf_getshdrstrndx(e, &shstrndx);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		gelf_getshdr(scn, &sh);
		if (strcmp(elf_strptr(e, shstrndx, sh.sh_name), ".note.gnu.build-id"))
			continue;
		d = elf_getdata(scn, NULL);
		/* 12-byte note header, "GNU\0", then the 20 bytes */
		for (i = 0; i < 20; i++)
			sprintf(hex + 2 * i, "%02x", ((const uint8_t *)d->d_buf)[16 + i]);
	}
	elf_end(e);
	close(fd);
}

static void test_open_errors(void **state)
{
	char tmp[] = "/tmp/asyncscope-elfXXXXXX";
	uint8_t buf[8192];
	ssize_t n;
	int in, out;
	uint16_t machine = 183;	/* EM_AARCH64 */

	(void)state;
	errno = 0;
	assert_null(elf_file__open("/nonexistent/asyncscope"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(elf_file__open("tests/fixtures/fixture.h"));
	assert_int_equal(errno, ENOEXEC);

	/* a copy of a good fixture with another e_machine */
	in = open(FIX_LEGACY, O_RDONLY);
	out = mkstemp(tmp);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	assert_int_equal(pwrite(out, &machine, 2, 18), 2);
	close(in);
	close(out);
	errno = 0;
	assert_null(elf_file__open(tmp));
	assert_int_equal(errno, ENOEXEC);
	unlink(tmp);
	elf_file__free(NULL);
}

static void test_basics(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	char want[41];
	struct stat st;
	dev_t dev;
	ino_t ino;

	(void)state;
	assert_non_null(ef);
	assert_string_equal(elf_file__path(ef), FIX_LEGACY);
	assert_int_equal(elf_file__is_pie(ef), 1);
	assert_int_equal(elf_file__has_symtab(ef), 1);
	note_build_id(FIX_LEGACY, want);
	assert_int_equal(strlen(want), 40);
	assert_string_equal(elf_file__build_id(ef), want);
	assert_int_equal(stat(FIX_LEGACY, &st), 0);
	elf_file__stat(ef, &dev, &ino);
	assert_true(dev == st.st_dev);
	assert_true(ino == st.st_ino);
	elf_file__free(ef);

	ef = elf_file__open(FIX_STRIPPED);
	assert_non_null(ef);
	assert_int_equal(elf_file__has_symtab(ef), 0);
	elf_file__free(ef);

	ef = elf_file__open(FIX_NOPIE);
	assert_non_null(ef);
	assert_int_equal(elf_file__is_pie(ef), 0);
	elf_file__free(ef);
}

static void test_symbols(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	uint64_t poll = symtab_value(FIX_LEGACY, POLL_A);
	const struct elf_sym *syms, *s;
	size_t n, i, cnt;

	(void)state;
	assert_non_null(ef);
	assert_true(poll != 0);
	syms = elf_file__syms(ef, &n);
	assert_true(n >= 30);
	for (i = 1; i < n; i++)
		assert_true(syms[i - 1].value <= syms[i].value);

	/* the alias and the original, sorted by name */
	s = elf_file__syms_at(ef, poll, &cnt);
	assert_non_null(s);
	assert_int_equal(cnt, 2);
	assert_string_equal(s[0].name, POLL_A_ALIAS);
	assert_string_equal(s[1].name, POLL_A);
	assert_int_equal(s[1].size, 5);		/* jmp rel32 */

	s = elf_file__sym_by_addr(ef, poll + 3);
	assert_non_null(s);
	assert_int_equal(s->value, poll);
	s = elf_file__sym_by_addr(ef, poll + 5);	/* the next function's padding or start */
	assert_true(!s || s->value != poll);
	assert_null(elf_file__syms_at(ef, poll + 1, &cnt));
	assert_int_equal(cnt, 0);
	elf_file__free(ef);
}

static void test_addresses(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	uint64_t poll = symtab_value(FIX_LEGACY, POLL_A), off, want;
	const struct elf_seg *segs;
	uint8_t b[5];
	char sec[32];
	size_t n, i;

	(void)state;
	assert_non_null(ef);
	want = section_offset(FIX_LEGACY, poll, sec, sizeof(sec));
	assert_string_equal(sec, ".text");
	assert_int_equal(elf_file__vaddr_to_off(ef, poll, &off), 0);
	assert_int_equal(off, want);
	/* the fixture's raw::poll is exactly `jmp rel32` */
	assert_int_equal(elf_file__read(ef, poll, b, sizeof(b)), 0);
	assert_int_equal(b[0], 0xe9);
	assert_non_null(elf_file__ptr(ef, poll, 5));

	assert_int_equal(elf_file__vaddr_to_off(ef, 0xdead00000000ULL, &off), -ENOENT);
	assert_int_equal(elf_file__read(ef, 0xdead00000000ULL, b, 1), -EFAULT);
	segs = elf_file__segs(ef, &n);
	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		const struct elf_seg *s = &segs[i];

		if (!s->filesz)
			continue;
		/* the last file byte reads, one past it does not */
		assert_int_equal(elf_file__read(ef, s->vaddr + s->filesz - 1, b, 1), 0);
		assert_int_equal(elf_file__read(ef, s->vaddr + s->filesz - 1, b, 2), -EFAULT);
		if (s->memsz > s->filesz)
			assert_int_equal(elf_file__vaddr_to_off(ef, s->vaddr + s->filesz, &off),
					 -ENOENT);
	}
	elf_file__free(ef);
}

/*
 * A PT_LOAD whose p_offset is near 2^64: offset + length wrapped past the
 * file-size check and elf_file__read() copied from before the mapping
 * (tests/fuzz/regress/elf).  Now nothing of that segment reads.
 */
static void test_segment_offset_wraps(void **state)
{
	char tmp[] = "/tmp/asyncscope-elfXXXXXX";
	uint64_t phoff, vaddr = 0, huge = UINT64_MAX - 7, off;
	uint16_t phentsize, phnum;
	struct elf_file *ef;
	uint8_t buf[8192], b[16];
	ssize_t n;
	int in, out, i;

	(void)state;
	in = open(FIX_LEGACY, O_RDONLY);
	out = mkstemp(tmp);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	/* the first PT_LOAD with file contents gets the huge offset */
	assert_int_equal(pread(out, &phoff, 8, 0x20), 8);
	assert_int_equal(pread(out, &phentsize, 2, 0x36), 2);
	assert_int_equal(pread(out, &phnum, 2, 0x38), 2);
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		assert_int_equal(pread(out, &ph, sizeof(ph), phoff + i * phentsize), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_filesz < sizeof(b))
			continue;
		vaddr = ph.p_vaddr;
		assert_int_equal(pwrite(out, &huge, 8, phoff + i * phentsize +
					offsetof(GElf_Phdr, p_offset)), 8);
		break;
	}
	close(out);
	assert_true(i < phnum);

	ef = elf_file__open(tmp);
	assert_non_null(ef);
	assert_int_equal(elf_file__read(ef, vaddr, b, sizeof(b)), -EFAULT);
	assert_null(elf_file__ptr(ef, vaddr, 1));
	assert_int_equal(elf_file__vaddr_to_off(ef, vaddr, &off), 0);
	assert_true(off == huge);
	elf_file__free(ef);
	unlink(tmp);
}

static void test_relocations(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	uint64_t vt = symtab_value(FIX_LEGACY, "vtable_a");
	uint64_t poll = symtab_value(FIX_LEGACY, POLL_A);
	uint64_t notvt = symtab_value(FIX_LEGACY, "not_a_vtable");
	const struct elf_rel *rels, *r;
	uint64_t offs[4];
	size_t n, i;

	(void)state;
	assert_non_null(ef);
	assert_true(vt && poll && notvt);
	rels = elf_file__relatives(ef, &n);
	assert_true(n >= 4 * 7 + 2);
	for (i = 1; i < n; i++)
		assert_true(rels[i - 1].offset < rels[i].offset);

	r = elf_file__relative_at(ef, vt);
	assert_non_null(r);
	assert_int_equal(r->addend, poll);
	r = elf_file__relative_at(ef, vt + 8);
	assert_non_null(r);
	assert_int_equal(r->addend, symtab_value(FIX_LEGACY, SCHEDULE));
	/* trailer/scheduler/id offsets are plain words */
	assert_null(elf_file__relative_at(ef, vt + 56));
	assert_null(elf_file__relative_at(ef, vt + 4));

	assert_int_equal(elf_file__relatives_to(ef, poll, offs, 4), 2);
	assert_int_equal(offs[0], vt);
	assert_int_equal(offs[1], notvt);
	assert_int_equal(elf_file__relatives_to(ef, poll, offs, 1), 2);
	assert_int_equal(elf_file__relatives_to(ef, poll + 1, offs, 4), 0);
	elf_file__free(ef);

	/* non-PIE: no relocations, the pointers are in the file */
	ef = elf_file__open(FIX_NOPIE);
	assert_non_null(ef);
	elf_file__relatives(ef, &n);
	assert_int_equal(n, 0);
	assert_int_equal(elf_file__read(ef, symtab_value(FIX_NOPIE, "vtable_a"), offs, 8), 0);
	assert_int_equal(offs[0], symtab_value(FIX_NOPIE, POLL_A));
	elf_file__free(ef);
}

struct data_seen {
	int rodata;
	int text;
	int calls;
};

static int see_section(const char *name, uint64_t addr, const void *data, size_t size, void *ctx)
{
	struct data_seen *seen = ctx;

	(void)addr;
	seen->calls++;
	if (!strcmp(name, ".rodata"))
		seen->rodata = memmem(data, size, "tokio-1.24.2/", 13) != NULL;
	if (!strcmp(name, ".text"))
		seen->text = 1;
	return 0;
}

static int stop_at_first(const char *name, uint64_t addr, const void *data, size_t size,
			 void *ctx)
{
	(void)name;
	(void)addr;
	(void)data;
	(void)size;
	(*(int *)ctx)++;
	return 42;
}

static void test_data_sections(void **state)
{
	struct elf_file *ef = elf_file__open(FIX_LEGACY);
	struct data_seen seen = { 0 };
	int calls = 0;

	(void)state;
	assert_non_null(ef);
	assert_int_equal(elf_file__for_each_data(ef, see_section, &seen), 0);
	assert_int_equal(seen.rodata, 1);
	assert_int_equal(seen.text, 0);
	assert_true(seen.calls >= 2);	/* .rodata, .data.rel.ro, ... */
	assert_int_equal(elf_file__for_each_data(ef, stop_at_first, &calls), 42);
	assert_int_equal(calls, 1);
	elf_file__free(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_symbols),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_segment_offset_wraps),
		cmocka_unit_test(test_relocations),
		cmocka_unit_test(test_data_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
