// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tokio_bin on the fixture binaries (tests/fixtures/tokio_*.c).  Addresses
 * come from the fixture's .symtab and file offsets from its section
 * headers, read here with libelf; classes and moves are the ones each
 * fixture function was written to produce.
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
#include <unistd.h>
#include <cmocka.h>

#include "tokio_bin.h"
#include "x86_site.h"

/* the Makefile passes $(OUTPUT)/fixtures */
#ifndef FIXTURE_DIR
#define FIXTURE_DIR	".output/fixtures"
#endif
#define FIX_LEGACY	FIXTURE_DIR "/tokio_legacy"
#define FIX_NOPIE	FIXTURE_DIR "/tokio_nopie"
#define FIX_V0		FIXTURE_DIR "/tokio_v0"
#define FIX_STRIPPED	FIXTURE_DIR "/tokio_legacy.stripped"
#define FIX_BAD		FIXTURE_DIR "/bad_layout"
#define FIX_NOTOKIO	FIXTURE_DIR "/notokio"

#define POLL_A "_ZN5tokio7runtime4task3raw4poll17h4e0a4074d5edc44fE.llvm.15880761565571571635"
#define POLL_B "_ZN5tokio7runtime4task3raw4poll17h9d7729b4f2cfc954E"
#define POLL_C "_ZN5tokio7runtime4task3raw4poll17hcfde9c3d5bc43bdbE"
#define WAKE_BY_VAL "_ZN5tokio7runtime4task5waker11wake_by_val17h9c081f16c06b226fE"
#define WAKE_BY_REF "_ZN5tokio7runtime4task5waker11wake_by_ref17h935fb38e54aa6699E"
#define CLONE_WAKER "_ZN5tokio7runtime4task5waker11clone_waker17h80316914ea85579dE"
#define DROP_WAKER "_ZN5tokio7runtime4task5waker10drop_waker17h9626739857e5aee9E"
#define SCHEDULE "_ZN5tokio7runtime4task3raw8schedule17h171daf91935cc557E"
#define COMPLETE "_ZN5tokio7runtime4task7harness20Harness$LT$T$C$S$GT$8complete17h1f3557b3d07163e0E.llvm.5076401635799221170"
#define SPAWN_INNER_1 "_ZN5tokio4task5spawn11spawn_inner17h1dadd0312f7315a3E"
#define SPAWN_INNER_2 "_ZN5tokio4task5spawn11spawn_inner17h63eedad521c87670E"
#define BIND "_ZN5tokio7runtime4task4list19OwnedTasks$LT$S$GT$4bind17h20248d38f9c698ffE"
#define SPAWN_TASK "_ZN5tokio7runtime8blocking4pool7Spawner10spawn_task17h39e26a07806eafbeE"
#define SHUTDOWN "_ZN5tokio7runtime4task3raw8shutdown17h54b5dadf92bee364E.llvm.15880761565571571635"

#define T_PROBE "probe::main::{{closure}}::{{closure}}"
#define T_LAUNCH                                                                   \
	"tokio::runtime::blocking::task::BlockingTask<tokio::runtime::scheduler::" \
	"multi_thread::worker::Launch::launch::{{closure}}>"

struct fixture_elf {
	int fd;
	Elf *e;
};

static void fx_open(struct fixture_elf *fx, const char *path)
{
	fx->fd = open(path, O_RDONLY);
	assert_true(fx->fd >= 0);
	elf_version(EV_CURRENT);
	fx->e = elf_begin(fx->fd, ELF_C_READ, NULL);
	assert_non_null(fx->e);
}

static void fx_close(struct fixture_elf *fx)
{
	elf_end(fx->e);
	close(fx->fd);
}

static uint64_t fx_sym(struct fixture_elf *fx, const char *name)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(fx->e, scn))) {
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		for (i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			const char *n;
			GElf_Sym s;

			gelf_getsym(d, i, &s);
			n = elf_strptr(fx->e, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name))
				return s.st_value;
		}
	}
	fail_msg("fixture symbol %s not found", name);
	return 0;
}

/* readelf-style: through the section that holds vaddr. */
static uint64_t fx_off(struct fixture_elf *fx, uint64_t vaddr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(fx->e, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type == SHT_NOBITS)
			continue;
		if (vaddr >= sh.sh_addr && vaddr < sh.sh_addr + sh.sh_size)
			return vaddr - sh.sh_addr + sh.sh_offset;
	}
	fail_msg("no section holds 0x%llx", (unsigned long long)vaddr);
	return 0;
}

static const struct probe_site *site_of(const struct tokio_bin *tb, enum hook_kind kind,
					uint64_t sym_vaddr)
{
	size_t i;

	for (i = 0; i < tb->nr_sites; i++) {
		if (tb->sites[i].kind == kind && tb->sites[i].sym_vaddr == sym_vaddr)
			return &tb->sites[i];
	}
	fail_msg("no %s site at 0x%llx", hook_kind_name(kind), (unsigned long long)sym_vaddr);
	return NULL;
}

/*
 * The site of sym for kind: at sym + moved_by, of class cls, with the file
 * offset and bytes the file has there.
 */
static const struct probe_site *expect_site(const struct tokio_bin *tb, struct fixture_elf *fx,
					    enum hook_kind kind, const char *sym,
					    uint64_t moved_by, enum site_class cls,
					    const char *why_part)
{
	uint64_t addr = fx_sym(fx, sym);
	const struct probe_site *s = site_of(tb, kind, addr);
	uint8_t bytes[16];

	assert_int_equal(s->vaddr, addr + moved_by);
	assert_int_equal(s->moved, moved_by != 0);
	assert_int_equal(s->cls, cls);
	assert_int_equal(s->file_off, fx_off(fx, s->vaddr));
	assert_int_equal(pread(fx->fd, bytes, s->insn_len, (off_t)s->file_off), s->insn_len);
	assert_true(s->insn_len > 0);
	assert_memory_equal(s->insn, bytes, s->insn_len);
	if (moved_by)
		assert_int_equal(s->entry_cls, SITE_SINGLE_STEP);
	if (why_part) {
		assert_non_null(s->stay_why);
		assert_non_null(strstr(s->stay_why, why_part));
	}
	return s;
}

static const struct task_vtable *expect_vtable(const struct tokio_bin *tb,
					       struct fixture_elf *fx, const char *label,
					       const char *poll, uint64_t trailer, uint64_t sched,
					       uint64_t id, const char *type, const char *scheduler)
{
	uint64_t at = fx_sym(fx, label);
	size_t i;

	for (i = 0; i < tb->nr_vtables; i++) {
		const struct task_vtable *v = &tb->vtables[i];

		if (v->vaddr != at)
			continue;
		assert_int_equal(v->poll, fx_sym(fx, poll));
		assert_int_equal(v->slots[0], v->poll);
		assert_int_equal(v->trailer_offset, trailer);
		assert_int_equal(v->scheduler_offset, sched);
		assert_int_equal(v->id_offset, id);
		if (type)
			assert_string_equal(v->future_type, type);
		else
			assert_null(v->future_type);
		if (scheduler)
			assert_string_equal(v->scheduler, scheduler);
		else
			assert_null(v->scheduler);
		return v;
	}
	fail_msg("vtable %s not found", label);
	return NULL;
}

static void check_legacy(const char *path, int pie)
{
	struct tokio_bin *tb;
	struct fixture_elf fx;
	const struct probe_site *s;
	char err[256];

	tb = tokio_bin__open(path, err, sizeof(err));
	assert_non_null(tb);
	fx_open(&fx, path);

	assert_string_equal(tb->path, path);
	assert_int_equal(strlen(tb->build_id), 40);
	assert_string_equal(tb->tokio_version, "1.24.2");
	assert_int_equal(tb->mangling, MANGLING_LEGACY);
	assert_int_equal(tb->pie, pie);
	assert_true(tb->nr_symbols >= 30);

	/* POLL_A has an alias at the same address: one site */
	assert_int_equal(tokio_bin__count(tb, HOOK_POLL), 3);
	assert_int_equal(tokio_bin__count(tb, HOOK_WAKE_BY_VAL), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_WAKE_BY_REF), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_CLONE_WAKER), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_DROP_WAKER), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_SCHEDULE), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_COMPLETE), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_SPAWN_INNER), 2);
	assert_int_equal(tokio_bin__count(tb, HOOK_BIND), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_SPAWN_BLOCKING), 1);
	assert_int_equal(tokio_bin__count(tb, HOOK_SHUTDOWN), 1);
	assert_int_equal(tb->nr_sites, 14);

	s = expect_site(tb, &fx, HOOK_POLL, POLL_A, 0, SITE_EMULATED, NULL);
	assert_int_equal(s->insn[0], 0xe9);
	assert_int_equal(s->insn_len, 5);
	assert_string_equal(s->name, "tokio::runtime::task::raw::poll");
	assert_int_equal(s->sym_size, 5);
	expect_site(tb, &fx, HOOK_POLL, POLL_B, 0, SITE_EMULATED, NULL);
	expect_site(tb, &fx, HOOK_POLL, POLL_C, 0, SITE_SINGLE_STEP, "uretprobe");
	expect_site(tb, &fx, HOOK_WAKE_BY_VAL, WAKE_BY_VAL, 4, SITE_EMULATED, NULL);
	expect_site(tb, &fx, HOOK_WAKE_BY_REF, WAKE_BY_REF, 3, SITE_EMULATED, NULL);
	expect_site(tb, &fx, HOOK_CLONE_WAKER, CLONE_WAKER, 0, SITE_SINGLE_STEP, "argument");
	expect_site(tb, &fx, HOOK_DROP_WAKER, DROP_WAKER, 0, SITE_SINGLE_STEP, "loop head");
	expect_site(tb, &fx, HOOK_SCHEDULE, SCHEDULE, 0, SITE_SINGLE_STEP, "argument");
	s = expect_site(tb, &fx, HOOK_COMPLETE, COMPLETE, 4, SITE_EMULATED, NULL);
	assert_string_equal(s->sym, COMPLETE);
	assert_string_equal(s->name, "tokio::runtime::task::harness::Harness<T,S>::complete");
	assert_int_equal(s->insn[0], 0x55);
	expect_site(tb, &fx, HOOK_SPAWN_INNER, SPAWN_INNER_1, 0, SITE_SINGLE_STEP, "argument");
	expect_site(tb, &fx, HOOK_SPAWN_INNER, SPAWN_INNER_2, 0, SITE_OPTIMIZED, NULL);
	expect_site(tb, &fx, HOOK_BIND, BIND, 0, SITE_SINGLE_STEP, "uretprobe");
	expect_site(tb, &fx, HOOK_SPAWN_BLOCKING, SPAWN_TASK, 0, SITE_SINGLE_STEP, "jump table");
	expect_site(tb, &fx, HOOK_SHUTDOWN, SHUTDOWN, 0, SITE_EMULATED, NULL);

	/* two vtables share POLL_C (merged code); the stray pointer is no vtable */
	assert_int_equal(tb->nr_vtables, 4);
	expect_vtable(tb, &fx, "vtable_a", POLL_A, 80, 32, 40, T_PROBE, "multi_thread");
	expect_vtable(tb, &fx, "vtable_b", POLL_B, 1152, 128, 136, T_PROBE, "current_thread");
	expect_vtable(tb, &fx, "vtable_c1", POLL_C, 72, 32, 32, T_LAUNCH, "blocking");
	expect_vtable(tb, &fx, "vtable_c2", POLL_C, 72, 32, 32, NULL, NULL);
	assert_int_equal(tb->nr_types_named, 3);
	assert_string_equal(tb->types_why, "legacy mangling: 1 of 4 vtables have inlined drop glue");
	s = site_of(tb, HOOK_POLL, fx_sym(&fx, POLL_A));
	assert_int_equal(tb->vtables[s->vtable_idx].vaddr, fx_sym(&fx, "vtable_a"));
	s = site_of(tb, HOOK_POLL, fx_sym(&fx, POLL_C));
	assert_int_equal(tb->vtables[s->vtable_idx].poll, fx_sym(&fx, POLL_C));
	assert_int_equal(site_of(tb, HOOK_SHUTDOWN, fx_sym(&fx, SHUTDOWN))->vtable_idx, -1);

	fx_close(&fx);
	tokio_bin__free(tb);
}

static void test_legacy_pie(void **state)
{
	(void)state;
	check_legacy(FIX_LEGACY, 1);
}

/* Same source, no relocations: vtables are found by their pointer words. */
static void test_legacy_nopie(void **state)
{
	(void)state;
	check_legacy(FIX_NOPIE, 0);
}

static void test_v0(void **state)
{
	struct tokio_bin *tb = tokio_bin__open(FIX_V0, NULL, 0);
	struct fixture_elf fx;
	size_t i;

	(void)state;
	assert_non_null(tb);
	fx_open(&fx, FIX_V0);
	assert_int_equal(tb->mangling, MANGLING_V0);
	assert_null(tb->tokio_version);
	assert_int_equal(tokio_bin__count(tb, HOOK_POLL), 3);
	assert_int_equal(tokio_bin__count(tb, HOOK_SPAWN_INNER), 0);
	for (i = HOOK_WAKE_BY_VAL; i < HOOK__MAX; i++) {
		if (i != HOOK_SPAWN_INNER)
			assert_int_equal(tokio_bin__count(tb, i), 1);
	}
	expect_site(tb, &fx, HOOK_CLONE_WAKER,
		    "_RNvNtNtNtCsdGtwSxdb4yH_5tokio7runtime4task5waker11clone_waker", 0xd,
		    SITE_EMULATED, NULL);
	expect_site(tb, &fx, HOOK_COMPLETE,
		    "_RNvMs0_NtNtNtCsdGtwSxdb4yH_5tokio7runtime4task7harnessINtB5_7HarnessINtNtNtB9_8"
		    "blocking4task12BlockingTaskNCNCNvCs34CQsbiDQaY_5probe4main0s_0ENtNtB19_8"
		    "schedule16BlockingScheduleE8completeB1M_.llvm.13892757934681616058",
		    0, SITE_EMULATED, NULL);
	expect_site(tb, &fx, HOOK_SPAWN_BLOCKING,
		    "_RNvMs4_NtNtNtCsdGtwSxdb4yH_5tokio7runtime8blocking4poolNtB5_7Spawner10spawn_task",
		    0, SITE_EMULATED, NULL);

	/* the types come from raw::poll's own name, though all share one dealloc */
	assert_int_equal(tb->nr_vtables, 3);
	expect_vtable(tb, &fx, "vtable_blocking",
		      "_RINvNtNtNtCsdGtwSxdb4yH_5tokio7runtime4task3raw4pollINtNtNtB6_8blocking4task12"
		      "BlockingTaskNCNCNvCs34CQsbiDQaY_5probe4main0s_0ENtNtBT_8schedule16"
		      "BlockingScheduleEB1w_.llvm.1902159699319144459",
		      72, 32, 32,
		      "tokio::runtime::blocking::task::BlockingTask<probe::main::{closure#0}::"
		      "{closure#1}>",
		      "blocking");
	expect_vtable(tb, &fx, "vtable_ct",
		      "_RINvNtNtNtCsdGtwSxdb4yH_5tokio7runtime4task3raw4pollNCNCNvCs34CQsbiDQaY_5probe"
		      "4main00INtNtCslNYArtu3iFV_5alloc4sync3ArcNtNtNtB6_9scheduler14current_thread6"
		      "HandleEEBU_",
		      80, 32, 40, "probe::main::{closure#0}::{closure#0}", "current_thread");
	expect_vtable(tb, &fx, "vtable_mt",
		      "_RINvNtNtNtCsdGtwSxdb4yH_5tokio7runtime4task3raw4pollNCNCNvCs34CQsbiDQaY_5probe"
		      "4main00INtNtCslNYArtu3iFV_5alloc4sync3ArcNtNtNtNtB6_9scheduler12multi_thread6"
		      "handle6HandleEEBU_",
		      1152, 128, 136, "probe::main::{closure#0}::{closure#0}", "multi_thread");
	assert_int_equal(tb->nr_types_named, 3);
	assert_null(tb->types_why);
	fx_close(&fx);
	tokio_bin__free(tb);
}

static void expect_open_error(const char *path, int want_errno, const char *want_msg)
{
	char err[512] = "junk";

	errno = 0;
	assert_null(tokio_bin__open(path, err, sizeof(err)));
	assert_int_equal(errno, want_errno);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, want_msg))
		fail_msg("error '%s' does not contain '%s'", err, want_msg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_open_error("/nonexistent/asyncscope", ENOENT, "no such file");
	expect_open_error("tests/fixtures/fixture.h", ENOEXEC, "not an x86-64 ELF file");
	expect_open_error(FIX_STRIPPED, ENODATA,
			  "stripped binary (tokio 1.24.2): no symbol table; stripped binaries are "
			  "not supported yet, rebuild without strip");
	/* stripped and no tokio at all: say "not tokio", not "rebuild without strip" */
	expect_open_error(FIXTURE_DIR "/notokio.stripped", ESRCH,
			  "no tokio runtime: stripped, and no tokio source path in its data");
	expect_open_error(FIX_NOTOKIO, ESRCH, "no tokio runtime");
	expect_open_error(FIX_BAD, EPROTO,
			  "unknown tokio layout: task vtable at 0x");
	expect_open_error(FIX_BAD, EPROTO,
			  "(_ZN5tokio7runtime4task3raw4poll17h9d7729b4f2cfc954E): id_offset 64 is "
			  "not scheduler_offset 32 + 0 or 8");
	/* no room for a message is fine */
	errno = 0;
	assert_null(tokio_bin__open(FIX_BAD, NULL, 0));
	assert_int_equal(errno, EPROTO);
	tokio_bin__free(NULL);
}

static char *capture(const struct tokio_bin *tb, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (json)
		tokio_bin__print_json(tb, f);
	else
		tokio_bin__print(tb, f);
	fclose(f);
	return buf;
}

static void expect_in(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("'%s' not in:\n%s", part, text);
}

static void test_print(void **state)
{
	struct tokio_bin *tb = tokio_bin__open(FIX_LEGACY, NULL, 0);
	char *out;

	(void)state;
	assert_non_null(tb);
	out = capture(tb, 0);
	expect_in(out, "tokio:     1.24.2\n");
	expect_in(out, "mangling:  legacy\n");
	expect_in(out, "  spawn_inner     2 sites\n");
	expect_in(out, "  wake_by_val     1 site\n");
	expect_in(out, "emulated     jne ");
	expect_in(out, "tokio::runtime::task::waker::wake_by_val (moved +0x4 from a single-step entry)");
	expect_in(out, "optimized    nopl (%rax, %rax)");
	expect_in(out, "(not moved: the function has a jump table)");
	expect_in(out, "multi_thread   probe::main::{{closure}}::{{closure}}\n");
	expect_in(out, "future types: 3 of 4 named: legacy mangling: 1 of 4 vtables have inlined "
		       "drop glue\n");
	free(out);
	out = capture(tb, 1);
	assert_int_equal(out[0], '{');
	expect_in(out, "\"tokio_version\": \"1.24.2\"");
	expect_in(out, "\"mangling\": \"legacy\"");
	expect_in(out, "\"cost\": \"optimized\"");
	expect_in(out, "\"future_type\": \"probe::main::{{closure}}::{{closure}}\"");
	expect_in(out, "\"types_named\": 3");
	free(out);
	tokio_bin__free(tb);

	tb = tokio_bin__open(FIX_V0, NULL, 0);
	assert_non_null(tb);
	out = capture(tb, 0);
	expect_in(out, "tokio:     unknown\n");
	expect_in(out, "  spawn_inner     not found (inlined or unused): spawn locations unavailable, "
		       "first poll used as creation\n");
	free(out);
	out = capture(tb, 1);
	expect_in(out, "\"spawn_inner\": {");
	expect_in(out, "\"missing\": \"spawn locations unavailable, first poll used as creation\"");
	expect_in(out, "\"tokio_version\": null");
	free(out);
	tokio_bin__free(tb);
}

static void test_hook_table(void **state)
{
	(void)state;
	assert_string_equal(hook_kind_name(HOOK_POLL), "poll");
	assert_string_equal(hook_kind_name(HOOK_SPAWN_BLOCKING), "spawn_blocking");
	assert_string_equal(hook_kind_name(HOOK__MAX), "unknown");
	assert_int_equal(hook_kind_args(HOOK_SPAWN_INNER), X86_ARG_RCX | X86_ARG_R8 | X86_ARG_RDX);
	assert_int_equal(hook_kind_args(HOOK_SPAWN_BLOCKING), X86_ARG_RSI);
	assert_int_equal(hook_kind_args(HOOK_BIND), 0);
	assert_int_equal(hook_kind_retprobe(HOOK_POLL), 1);
	assert_int_equal(hook_kind_retprobe(HOOK_BIND), 1);
	assert_int_equal(hook_kind_retprobe(HOOK_WAKE_BY_VAL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_pie),
		cmocka_unit_test(test_legacy_nopie),
		cmocka_unit_test(test_v0),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_hook_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
