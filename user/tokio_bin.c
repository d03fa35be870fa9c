// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Target resolution for a tokio 1.24 binary, offline, from its ELF file.
 * Facts this relies on (shared/reference/tokio-1.24-internals.md):
 * - every raw::poll<T,S> is address-taken by its task Vtable, so it exists
 *   in every build; the Vtable is a static in .data.rel.ro whose slot 0 is
 *   a R_X86_64_RELATIVE relocation to it (PIE) or a plain word (non-PIE);
 * - Vtable = 7 fn pointers (poll, schedule, dealloc, try_read_output,
 *   drop_join_handle_slow, drop_abort_handle, shutdown) then trailer_offset,
 *   scheduler_offset, id_offset;
 * - v0 symbols carry <T, S> in raw::poll's name; legacy ones do not, but
 *   raw::dealloc calls the drop glue of Cell<T, S>, whose name does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "demangle.h"
#include "elf_file.h"
#include "json_writer.h"
#include "log.h"
#include "tokio_bin.h"
#include "x86_site.h"

#define LEGACY_POLL_PREFIX	"_ZN5tokio7runtime4task3raw4poll17h"
#define PATH_SCHEDULE		"tokio::runtime::task::raw::schedule"
#define PATH_DEALLOC		"tokio::runtime::task::raw::dealloc"
#define PATH_SHUTDOWN		"tokio::runtime::task::raw::shutdown"
#define CELL_PATH		"tokio::runtime::task::core::Cell"

#define VTABLE_FNS		7
#define VTABLE_WORDS		10
/* Core<T,S> starts right after the 32-byte Header (40 with tokio_unstable). */
#define MIN_SCHEDULER_OFFSET	32
/* No task Cell is anywhere near 1 MiB; a bigger offset means we misread. */
#define MAX_TRAILER_OFFSET	(1u << 20)
/*
 * task_id follows the scheduler in Core: +8 for an Arc<Handle>, +0 for the
 * zero-sized BlockingSchedule (observed 32/40, 128/136, 32/32, 40/48).
 */
#define MAX_ID_AFTER_SCHEDULER	8
#define MAX_VTABLE_CANDIDATES	64
/* dealloc -> drop_in_place<Box<Cell>> -> drop_in_place<Cell>: two hops. */
#define GLUE_DEPTH		2
#define MAX_BRANCH_TARGETS	256
#define MAX_FUNC_BYTES		(1u << 20)
#define MAX_VERSIONS		8

static const struct hook_def {
	const char *name;
	const char *path;	/* demangled, generic arguments removed */
	uint32_t args;
	int retprobe;
	const char *missing;
} hook_defs[HOOK__MAX] = {
	[HOOK_POLL] = { "poll", "tokio::runtime::task::raw::poll", X86_ARG_RDI, 1,
			"no polls can be seen" },
	[HOOK_WAKE_BY_VAL] = { "wake_by_val", "tokio::runtime::task::waker::wake_by_val",
			       X86_ARG_RDI, 0, "wakes by value unavailable" },
	[HOOK_WAKE_BY_REF] = { "wake_by_ref", "tokio::runtime::task::waker::wake_by_ref",
			       X86_ARG_RDI, 0, "wakes by reference unavailable" },
	[HOOK_CLONE_WAKER] = { "clone_waker", "tokio::runtime::task::waker::clone_waker",
			       X86_ARG_RDI, 0, "waker clones unavailable" },
	[HOOK_DROP_WAKER] = { "drop_waker", "tokio::runtime::task::waker::drop_waker",
			      X86_ARG_RDI, 0, "waker drops unavailable" },
	[HOOK_SCHEDULE] = { "schedule", PATH_SCHEDULE, X86_ARG_RDI, 0,
			    "enqueues unavailable, scheduled time comes from wakes only" },
	[HOOK_COMPLETE] = { "complete", "tokio::runtime::task::harness::Harness::complete",
			    X86_ARG_RDI, 0, "task completions unavailable" },
	[HOOK_SPAWN_INNER] = { "spawn_inner", "tokio::task::spawn::spawn_inner",
			       X86_ARG_RCX | X86_ARG_R8 | X86_ARG_RDX, 0,
			       "spawn locations unavailable, first poll used as creation" },
	[HOOK_BIND] = { "bind", "tokio::runtime::task::list::OwnedTasks::bind", 0, 1,
			"task ids at spawn come from spawn_inner's return, or the first poll" },
	[HOOK_SPAWN_BLOCKING] = { "spawn_blocking",
				  "tokio::runtime::blocking::pool::Spawner::spawn_task",
				  X86_ARG_RSI, 0, "blocking tasks appear at their first poll" },
	[HOOK_SHUTDOWN] = { "shutdown", PATH_SHUTDOWN, X86_ARG_RDI, 0,
			    "cancellations at runtime shutdown unavailable" },
};

const char *hook_kind_name(enum hook_kind kind)
{
	return (unsigned int)kind < HOOK__MAX ? hook_defs[kind].name : "unknown";
}

uint32_t hook_kind_args(enum hook_kind kind)
{
	return (unsigned int)kind < HOOK__MAX ? hook_defs[kind].args : 0;
}

int hook_kind_retprobe(enum hook_kind kind)
{
	return (unsigned int)kind < HOOK__MAX ? hook_defs[kind].retprobe : 0;
}

const char *hook_kind_missing(enum hook_kind kind)
{
	return (unsigned int)kind < HOOK__MAX ? hook_defs[kind].missing : "";
}

struct builder {
	struct tokio_bin *tb;
	const struct elf_file *ef;
	size_t sites_cap;
	size_t vt_cap;
	char *err;
	size_t errlen;
};

static void set_err(struct builder *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct builder *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->err || !b->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
}


/* Demangled path (no generics) of sym, malloc'd; NULL if not Rust. */
static char *sym_path(const char *mangled)
{
	char *dm = demangle__rust(mangled), *path;

	if (!dm)
		return NULL;
	path = demangle__path(dm);
	free(dm);
	return path;
}

/* Is some function symbol at addr named path (generics removed)? */
static int addr_is(const struct elf_file *ef, uint64_t addr, const char *path)
{
	const struct elf_sym *s;
	size_t n, i;
	int ok = 0;

	s = elf_file__syms_at(ef, addr, &n);
	for (i = 0; i < n && !ok; i++) {
		char *p = sym_path(s[i].name);

		ok = p && !strcmp(p, path);
		free(p);
	}
	return ok;
}

/* The code of the function at vaddr: its whole body, or what the file has of it. */
static const uint8_t *func_code(const struct elf_file *ef, uint64_t vaddr, uint64_t size,
				size_t *len)
{
	size_t want = size && size < MAX_FUNC_BYTES ? size : 64;
	const uint8_t *p;

	for (; want; want = want > 16 ? 16 : want - 1) {
		p = elf_file__ptr(ef, vaddr, want);
		if (p) {
			*len = want;
			return p;
		}
	}
	return NULL;
}

static int kind_of(const char *mangled, const char *path)
{
	int k;

	if (!strncmp(mangled, LEGACY_POLL_PREFIX, strlen(LEGACY_POLL_PREFIX)))
		return HOOK_POLL;
	if (!path)
		return -1;
	for (k = 0; k < HOOK__MAX; k++) {
		if (!strcmp(path, hook_defs[k].path))
			return k;
	}
	return -1;
}

static int fill_insn(struct builder *b, struct probe_site *s)
{
	const uint8_t *p = NULL;
	size_t n;
	int len;

	/* 16 bytes, or fewer when the function ends its segment */
	for (n = sizeof(s->insn); n; n--) {
		p = elf_file__ptr(b->ef, s->vaddr, n);
		if (p)
			break;
	}
	if (!p)
		return -ENOEXEC;
	memset(s->insn, 0, sizeof(s->insn));
	memcpy(s->insn, p, n);
	len = x86_site__classify(p, n, s->vaddr, &s->cls);
	if (len < 0) {
		s->cls = SITE_SINGLE_STEP;
		len = 0;
	}
	s->insn_len = (uint8_t)len;
	return elf_file__vaddr_to_off(b->ef, s->vaddr, &s->file_off) ? -ENOEXEC : 0;
}

/* Fill the probe address, its file offset, bytes and class; move it if cheaper. */
static int resolve_site(struct builder *b, struct probe_site *s)
{
	const struct hook_def *h = &hook_defs[s->kind];
	struct x86_site xs;
	const uint8_t *code;
	size_t len;
	int err;

	s->vaddr = s->sym_vaddr;
	err = fill_insn(b, s);
	if (err)
		goto fail;
	s->entry_cls = s->cls;
	if (s->cls != SITE_SINGLE_STEP && s->cls != SITE_REFUSED)
		return 0;
	if (h->retprobe) {
		s->stay_why = "a uretprobe must sit at the entry";
		return 0;
	}
	/* without the whole body, loop heads and jump tables would go unseen */
	if (!s->sym_size) {
		s->stay_why = "the function's size is unknown";
		return 0;
	}
	code = func_code(b->ef, s->sym_vaddr, s->sym_size, &len);
	if (!code || x86_site__find(code, len, s->sym_vaddr, h->args, &xs)) {
		s->stay_why = "the entry does not decode";
		return 0;
	}
	if (!xs.off) {
		s->stay_why = xs.why;
		return 0;
	}
	s->vaddr = s->sym_vaddr + xs.off;
	s->moved = 1;
	err = fill_insn(b, s);
	if (err)
		goto fail;
	return 0;

fail:
	set_err(b, "cannot map %s at 0x%" PRIx64 " to a file offset", s->name, s->vaddr);
	return err;
}

static int add_site(struct builder *b, int kind, const struct elf_sym *sym, char *dm)
{
	struct tokio_bin *tb = b->tb;
	struct probe_site *s;
	size_t i;
	int err;

	for (i = 0; i < tb->nr_sites; i++) {
		/* aliases and .symtab/.dynsym copies of one function: one probe */
		if (tb->sites[i].kind == (enum hook_kind)kind && tb->sites[i].sym_vaddr == sym->value)
			return 0;
	}
	err = array__grow((void **)&tb->sites, &b->sites_cap, tb->nr_sites + 1, sizeof(*tb->sites));
	if (err)
		return err;
	s = &tb->sites[tb->nr_sites];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->vtable_idx = -1;
	s->sym_vaddr = sym->value;
	s->sym_size = sym->size;
	s->sym = strdup(sym->name);
	s->name = dm ? strdup(dm) : strdup(sym->name);
	tb->nr_sites++;
	if (!s->sym || !s->name)
		return -ENOMEM;
	return resolve_site(b, s);
}

/*
 * tokio's static task id counter: read after attaching, it tells tasks
 * spawned while traced from older ones even when no spawn hook survived.
 */
static int match_next_id(const char *name, uint64_t vaddr, uint64_t size, void *ctx)
{
	uint64_t *out = ctx;

	if (size == 8 && strstr(name, "5tokio7runtime4task2id") && strstr(name, "4next7NEXT_ID")) {
		*out = vaddr;
		return 1;
	}
	return 0;
}

static int find_hooks(struct builder *b)
{
	const struct elf_sym *syms;
	size_t n, i;
	int err = 0;

	syms = elf_file__syms(b->ef, &n);
	b->tb->nr_symbols = n;
	err = elf_file__for_each_object(b->ef, match_next_id, &b->tb->next_id_vaddr);
	for (i = 0; i < n && !err; i++) {
		const char *name = syms[i].name;
		char *dm = NULL, *path = NULL;
		int kind;

		/* legacy "_ZN5tokio...", v0 "..._5tokio..." (crate name, length 5) */
		if (!strstr(name, "5tokio"))
			continue;
		dm = demangle__rust(name);
		if (dm)
			path = demangle__path(dm);
		kind = kind_of(name, path);
		if (kind >= 0) {
			err = add_site(b, kind, &syms[i], dm);
			if (kind == HOOK_POLL && b->tb->mangling == MANGLING_UNKNOWN)
				b->tb->mangling = name[1] == 'R' ? MANGLING_V0 : MANGLING_LEGACY;
		}
		free(dm);
		free(path);
	}
	return err;
}

struct word_scan {
	uint64_t want;
	uint64_t *found;
	size_t n;
	size_t max;
};

static int scan_words(const char *name, uint64_t addr, const void *data, size_t size,
		      void *ctx)
{
	struct word_scan *ws = ctx;
	const uint8_t *p = data;
	uint64_t a, w;
	size_t i;

	(void)name;
	for (i = (8 - (addr & 7)) & 7; i + 8 <= size; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != ws->want)
			continue;
		a = addr + i;
		if (ws->n < ws->max)
			ws->found[ws->n] = a;
		ws->n++;
	}
	return 0;
}

/* Where a word equal to poll may start a Vtable. */
static size_t vtable_candidates(struct builder *b, uint64_t poll, uint64_t *out, size_t max)
{
	struct word_scan ws = { .want = poll, .found = out, .max = max };
	size_t nrel;

	elf_file__relatives(b->ef, &nrel);
	if (nrel)
		return elf_file__relatives_to(b->ef, poll, out, max);
	/* non-PIE: the pointers are plain words in the file */
	elf_file__for_each_data(b->ef, scan_words, &ws);
	return ws.n;
}

static int read_word(const struct elf_file *ef, uint64_t at, int relocated, uint64_t *w)
{
	const struct elf_rel *r;

	if (relocated) {
		r = elf_file__relative_at(ef, at);
		if (!r)
			return -ENOENT;
		*w = r->addend;
		return 0;
	}
	return elf_file__read(ef, at, w, sizeof(*w));
}

/* What is wrong with the offsets of a Vtable (into buf), or 0 when nothing. */
static int layout_problem(const struct elf_file *ef, const struct task_vtable *vt,
			  int relocated, char *buf, size_t len)
{
	uint64_t sched = vt->scheduler_offset, id = vt->id_offset, trailer = vt->trailer_offset;
	int i;

	for (i = VTABLE_FNS; i < VTABLE_WORDS && relocated; i++) {
		if (elf_file__relative_at(ef, vt->vaddr + 8 * i))
			return snprintf(buf, len, "slot %d holds a pointer, not an offset", i);
	}
	if (sched < MIN_SCHEDULER_OFFSET)
		return snprintf(buf, len, "scheduler_offset %" PRIu64 " < %d", sched,
				MIN_SCHEDULER_OFFSET);
	if (id < sched || id - sched > MAX_ID_AFTER_SCHEDULER || (id - sched) % 8)
		return snprintf(buf, len,
				"id_offset %" PRIu64 " is not scheduler_offset %" PRIu64 " + 0 or 8",
				id, sched);
	if (trailer <= id)
		return snprintf(buf, len, "trailer_offset %" PRIu64 " <= id_offset %" PRIu64,
				trailer, id);
	if (trailer >= MAX_TRAILER_OFFSET)
		return snprintf(buf, len, "trailer_offset %" PRIu64 " >= %u", trailer,
				MAX_TRAILER_OFFSET);
	return 0;
}

/*
 * 1: a valid Vtable in vt; 0: not a Vtable at all (why says what is off);
 * -EPROTO: a Vtable of this poll whose layout we do not know (b->err).
 */
static int read_vtable(struct builder *b, const struct probe_site *poll, uint64_t at,
		       struct task_vtable *vt, char *why, size_t whylen)
{
	static const struct {
		int slot;
		const char *path;
	} named[] = { { 1, PATH_SCHEDULE }, { 2, PATH_DEALLOC }, { 6, PATH_SHUTDOWN } };
	const struct elf_file *ef = b->ef;
	size_t nrel;
	uint64_t w[VTABLE_WORDS];
	int relocated, i;
	char what[160];

	elf_file__relatives(ef, &nrel);
	relocated = nrel > 0;
	for (i = 0; i < VTABLE_WORDS; i++) {
		if (read_word(ef, at + 8 * i, relocated && i < VTABLE_FNS, &w[i])) {
			snprintf(why, whylen, "slot %d at 0x%" PRIx64 " is %s", i, at + 8 * i,
				 relocated && i < VTABLE_FNS ? "not relocated" : "not in the file");
			return 0;
		}
	}
	if (w[0] != poll->sym_vaddr) {
		snprintf(why, whylen, "slot 0 is 0x%" PRIx64 ", not raw::poll", w[0]);
		return 0;
	}
	for (i = 0; i < (int)(sizeof(named) / sizeof(named[0])); i++) {
		if (!addr_is(ef, w[named[i].slot], named[i].path)) {
			snprintf(why, whylen, "slot %d (0x%" PRIx64 ") is not %s", named[i].slot,
				 w[named[i].slot], named[i].path);
			return 0;
		}
	}

	vt->vaddr = at;
	vt->poll = w[0];
	memcpy(vt->slots, w, sizeof(vt->slots));
	vt->trailer_offset = w[7];
	vt->scheduler_offset = w[8];
	vt->id_offset = w[9];
	if (layout_problem(ef, vt, relocated, what, sizeof(what))) {
		set_err(b, "unknown tokio layout: task vtable at 0x%" PRIx64 " of %s (%s): %s", at,
			poll->name, poll->sym, what);
		return -EPROTO;
	}
	return 1;
}

static int find_vtables(struct builder *b)
{
	struct tokio_bin *tb = b->tb;
	uint64_t cand[MAX_VTABLE_CANDIDATES];
	size_t i, j, n, k;
	int err;

	for (i = 0; i < tb->nr_sites; i++) {
		struct probe_site *s = &tb->sites[i];
		char why[160] = "no pointer to it in the data";

		if (s->kind != HOOK_POLL)
			continue;
		n = vtable_candidates(b, s->sym_vaddr, cand, MAX_VTABLE_CANDIDATES);
		if (n > MAX_VTABLE_CANDIDATES)
			n = MAX_VTABLE_CANDIDATES;
		for (j = 0; j < n; j++) {
			struct task_vtable vt = { 0 };

			err = read_vtable(b, s, cand[j], &vt, why, sizeof(why));
			if (err < 0)
				return err;
			if (!err)
				continue;
			for (k = 0; k < tb->nr_vtables && tb->vtables[k].vaddr != vt.vaddr; k++)
				;
			if (k == tb->nr_vtables) {
				err = array__grow((void **)&tb->vtables, &b->vt_cap, tb->nr_vtables + 1,
					   sizeof(*tb->vtables));
				if (err)
					return err;
				tb->vtables[tb->nr_vtables++] = vt;
			}
			if (s->vtable_idx < 0)
				s->vtable_idx = (int)k;
		}
		if (s->vtable_idx < 0) {
			set_err(b, "unknown tokio layout: no task vtable for %s (%s) at 0x%" PRIx64
				   ": %s", s->name, s->sym, s->sym_vaddr, why);
			return -EPROTO;
		}
	}
	return 0;
}

static const char *scheduler_name(const char *s)
{
	if (strstr(s, "multi_thread"))
		return "multi_thread";
	if (strstr(s, "current_thread"))
		return "current_thread";
	if (strstr(s, "BlockingSchedule"))
		return "blocking";
	if (strstr(s, "task::local::Shared"))
		return "local";
	return NULL;
}

/*
 * The drop glue raw::dealloc reaches, best first: Cell<T, S> and Core<T, S>
 * name both, CoreStage<T> and Stage<T> (when the Cell's glue is inlined)
 * only the future.
 */
static const struct glue_pattern {
	const char *path;
	int nargs;
} glue_patterns[] = {
	{ "tokio::runtime::task::core::Cell", 2 },
	{ "tokio::runtime::task::core::Core", 2 },
	{ "tokio::runtime::task::core::CoreStage", 1 },
	{ "tokio::runtime::task::core::Stage", 1 },
};

/*
 * T (and S when nargs is 2) from the generic list opening at open:
 * 0, or -ENOENT / -ENOMEM.
 */
static int set_types(struct task_vtable *vt, const char *open, int nargs)
{
	char *args[2] = { NULL, NULL };
	const char *sched = NULL;
	int n;

	n = demangle__generic_args(open, args, 2);
	if (n < 0)
		return n == -ENOMEM ? -ENOMEM : -ENOENT;
	if (n != nargs) {
		free(args[0]);
		free(args[1]);
		return -ENOENT;
	}
	if (nargs == 2)
		sched = scheduler_name(args[1]);
	/* tokio 1.24 runs a BlockingTask only with BlockingSchedule */
	if (!sched && !strncmp(args[0], "tokio::runtime::blocking::task::BlockingTask<",
			       strlen("tokio::runtime::blocking::task::BlockingTask<")))
		sched = "blocking";
	free(args[1]);
	vt->future_type = args[0];
	vt->scheduler = sched ? strdup(sched) : NULL;
	return sched && !vt->scheduler ? -ENOMEM : 0;
}

/* v0: tokio::runtime::task::raw::poll::<T, S> */
static int types_from_poll(struct task_vtable *vt, const char *poll_name)
{
	const char *open = strstr(poll_name, "raw::poll::<");

	if (!open)
		return -ENOENT;
	return set_types(vt, open + strlen("raw::poll::"), 2);
}

/* Is sym core::ptr::drop_in_place<...pattern<...>...>? Then take the types from it. */
static int types_from_glue(struct task_vtable *vt, const char *mangled,
			   const struct glue_pattern *pat)
{
	char *dm = demangle__rust(mangled);
	size_t plen = strlen(pat->path);
	const char *at;
	int err = -ENOENT;

	if (!dm)
		return -ENOENT;
	if (strncmp(dm, "core::ptr::drop_in_place", strlen("core::ptr::drop_in_place")))
		goto cleanup;
	for (at = strstr(dm, pat->path); at; at = strstr(at + 1, pat->path)) {
		if (at[plen] == '<') {
			err = set_types(vt, at + plen, pat->nargs);
			break;
		}
	}

cleanup:
	free(dm);
	return err;
}

/*
 * Follow direct calls and jumps from fn, breadth first, up to GLUE_DEPTH
 * hops, to the drop glue of the task's Cell.
 */
static int follow_glue(const struct elf_file *ef, struct task_vtable *vt, uint64_t fn,
		       int depth)
{
	uint64_t targets[MAX_BRANCH_TARGETS];
	const struct elf_sym *s;
	const uint8_t *code;
	size_t n, i, j, p, cnt, len;
	int err;

	s = elf_file__syms_at(ef, fn, &cnt);
	if (!s)
		return -ENOENT;
	code = func_code(ef, fn, s->size, &len);
	if (!code)
		return -ENOENT;
	n = x86_site__direct_targets(code, len, fn, targets, MAX_BRANCH_TARGETS);
	if (n > MAX_BRANCH_TARGETS)
		n = MAX_BRANCH_TARGETS;
	for (p = 0; p < sizeof(glue_patterns) / sizeof(glue_patterns[0]); p++) {
		for (i = 0; i < n; i++) {
			s = elf_file__syms_at(ef, targets[i], &cnt);
			for (j = 0; j < cnt; j++) {
				err = types_from_glue(vt, s[j].name, &glue_patterns[p]);
				if (err != -ENOENT)
					return err;
			}
		}
	}
	if (depth + 1 >= GLUE_DEPTH)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		if (targets[i] == fn)
			continue;
		err = follow_glue(ef, vt, targets[i], depth + 1);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

static size_t count_slot(const struct tokio_bin *tb, int slot, uint64_t addr)
{
	size_t i, n = 0;

	for (i = 0; i < tb->nr_vtables; i++)
		n += tb->vtables[i].slots[slot] == addr;
	return n;
}

static int name_types(struct builder *b)
{
	struct tokio_bin *tb = b->tb;
	size_t i, j, merged = 0, inlined = 0;
	char why[256];
	int err, len = 0;

	for (i = 0; i < tb->nr_vtables; i++) {
		struct task_vtable *vt = &tb->vtables[i];
		const char *poll_name = NULL;

		for (j = 0; j < tb->nr_sites && !poll_name; j++) {
			if (tb->sites[j].kind == HOOK_POLL && tb->sites[j].sym_vaddr == vt->poll)
				poll_name = tb->sites[j].name;
		}
		err = -ENOENT;
		/* a raw::poll shared by several vtables names only one of them */
		if (poll_name && count_slot(tb, 0, vt->poll) == 1)
			err = types_from_poll(vt, poll_name);
		if (err == -ENOENT) {
			if (count_slot(tb, 2, vt->slots[2]) > 1) {
				merged++;
				continue;
			}
			err = follow_glue(b->ef, vt, vt->slots[2], 0);
		}
		if (err == -ENOMEM)
			return err;
		if (err)
			inlined++;
		else
			tb->nr_types_named++;
	}
	if (tb->nr_types_named == tb->nr_vtables)
		return 0;
	why[0] = '\0';
	if (inlined)
		len += snprintf(why + len, sizeof(why) - len,
				"%s mangling: %zu of %zu vtables have inlined drop glue",
				tb->mangling == MANGLING_V0 ? "v0" : "legacy", inlined,
				tb->nr_vtables);
	if (merged)
		snprintf(why + len, sizeof(why) - len,
			 "%s%zu of %zu vtables share merged code with another vtable",
			 inlined ? "; " : "", merged, tb->nr_vtables);
	tb->types_why = strdup(why);
	return tb->types_why ? 0 : -ENOMEM;
}

struct version_scan {
	char ver[MAX_VERSIONS][24];
	size_t count[MAX_VERSIONS];
	size_t n;
};

/* "tokio-1.24.2/" as cargo registry paths in panic locations spell it. */
static int scan_version(const char *name, uint64_t addr, const void *data, size_t size,
			void *ctx)
{
	struct version_scan *vs = ctx;
	const char *p = data, *end = p + size, *q;
	size_t i, len;
	int dots;

	(void)name;
	(void)addr;
	while ((q = memmem(p, end - p, "tokio-", 6))) {
		const char *v = q + 6, *c = v;

		p = q + 6;
		for (dots = 0; c < end && (*c == '.' || (*c >= '0' && *c <= '9')); c++) {
			if (*c == '.' && (c == v || c[-1] == '.'))
				break;
			dots += *c == '.';
		}
		if (c >= end || *c != '/' || dots != 2 || c[-1] == '.' || c == v)
			continue;
		len = c - v;
		if (len >= sizeof(vs->ver[0]))
			continue;
		for (i = 0; i < vs->n; i++) {
			if (strlen(vs->ver[i]) == len && !memcmp(vs->ver[i], v, len))
				break;
		}
		if (i == vs->n) {
			if (vs->n == MAX_VERSIONS)
				continue;
			memcpy(vs->ver[i], v, len);
			vs->ver[i][len] = '\0';
			vs->n++;
		}
		vs->count[i]++;
	}
	return 0;
}

static int find_version(struct builder *b)
{
	struct version_scan vs;
	size_t i, best = 0;

	memset(&vs, 0, sizeof(vs));
	elf_file__for_each_data(b->ef, scan_version, &vs);
	if (!vs.n)
		return 0;
	for (i = 1; i < vs.n; i++) {
		if (vs.count[i] > vs.count[best])
			best = i;
	}
	b->tb->tokio_version = strdup(vs.ver[best]);
	return b->tb->tokio_version ? 0 : -ENOMEM;
}

static int site_cmp(const void *a, const void *b)
{
	const struct probe_site *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->sym_vaddr != y->sym_vaddr)
		return x->sym_vaddr < y->sym_vaddr ? -1 : 1;
	return 0;
}

struct tokio_bin *tokio_bin__open(const char *path, char *err, size_t errlen)
{
	struct builder b = { .err = err, .errlen = errlen };
	struct elf_file *ef;
	size_t i;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ef = elf_file__open(path);
	if (!ef) {
		ret = -errno;
		if (ret == -ENOENT)
			set_err(&b, "no such file");
		else if (ret == -ENOEXEC)
			set_err(&b, "not an x86-64 ELF file");
		else
			set_err(&b, "cannot open: %s", strerror(-ret));
		goto cleanup;
	}
	b.ef = ef;
	if (!elf_file__has_symtab(ef)) {
		struct version_scan vs;

		/*
		 * Stripping keeps .rodata, where tokio leaves its source paths:
		 * tell a stripped tokio program from a program without tokio.
		 */
		memset(&vs, 0, sizeof(vs));
		elf_file__for_each_data(ef, scan_version, &vs);
		if (!vs.n) {
			set_err(&b, "no tokio runtime: stripped, and no tokio source path in its data; "
				    "is this a tokio program?");
			ret = -ESRCH;
		} else {
			set_err(&b, "stripped binary (tokio %s): no symbol table; stripped binaries "
				    "are not supported yet, rebuild without strip", vs.ver[0]);
			ret = -ENODATA;
		}
		goto cleanup;
	}
	b.tb = calloc(1, sizeof(*b.tb));
	if (!b.tb) {
		ret = -ENOMEM;
		goto cleanup;
	}
	b.tb->path = strdup(path);
	if (!b.tb->path) {
		ret = -ENOMEM;
		goto cleanup;
	}
	snprintf(b.tb->build_id, sizeof(b.tb->build_id), "%s", elf_file__build_id(ef));
	b.tb->pie = elf_file__is_pie(ef);

	ret = find_hooks(&b);
	if (ret)
		goto cleanup;
	if (!tokio_bin__count(b.tb, HOOK_POLL)) {
		set_err(&b, "no tokio runtime: no tokio::runtime::task::raw::poll symbol");
		ret = -ESRCH;
		goto cleanup;
	}
	ret = find_vtables(&b);
	if (ret)
		goto cleanup;
	ret = name_types(&b);
	if (ret)
		goto cleanup;
	ret = find_version(&b);
	if (ret)
		goto cleanup;
	qsort(b.tb->sites, b.tb->nr_sites, sizeof(*b.tb->sites), site_cmp);
	for (i = 0; i < b.tb->nr_sites; i++) {
		const struct probe_site *s = &b.tb->sites[i];

		pr_debug("tokio: %s %s at 0x%" PRIx64 " (file 0x%" PRIx64 "), %s%s\n",
			 hook_kind_name(s->kind), s->sym, s->vaddr, s->file_off,
			 site_class_name(s->cls), s->moved ? ", moved" : "");
	}
	elf_file__free(ef);
	return b.tb;

cleanup:
	if (ret == -ENOMEM)
		set_err(&b, "out of memory");
	pr_debug("tokio: cannot use '%s': %s\n", path, err && errlen ? err : strerror(-ret));
	tokio_bin__free(b.tb);
	elf_file__free(ef);
	errno = -ret;
	return NULL;
}

void tokio_bin__free(struct tokio_bin *tb)
{
	size_t i;

	if (!tb)
		return;
	for (i = 0; i < tb->nr_sites; i++) {
		free(tb->sites[i].sym);
		free(tb->sites[i].name);
	}
	for (i = 0; i < tb->nr_vtables; i++) {
		free(tb->vtables[i].future_type);
		free(tb->vtables[i].scheduler);
	}
	free(tb->sites);
	free(tb->vtables);
	free(tb->types_why);
	free(tb->tokio_version);
	free(tb->path);
	free(tb);
}

size_t tokio_bin__count(const struct tokio_bin *tb, enum hook_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < tb->nr_sites; i++)
		n += tb->sites[i].kind == kind;
	return n;
}

static const char *mangling_name(enum mangling m)
{
	switch (m) {
	case MANGLING_LEGACY:
		return "legacy";
	case MANGLING_V0:
		return "v0";
	default:
		return "unknown";
	}
}

static void insn_text(const struct probe_site *s, char *buf, size_t len)
{
	if (x86_site__format(s->insn, s->insn_len ? s->insn_len : sizeof(s->insn), s->vaddr,
			     buf, len) < 0)
		snprintf(buf, len, "(bad)");
}

/* The path of a site without generic arguments, for the one-line listing. */
static void short_name(const struct probe_site *s, char *buf, size_t len)
{
	char *p = demangle__path(s->name);

	snprintf(buf, len, "%s", p ? p : s->name);
	free(p);
}

void tokio_bin__print(const struct tokio_bin *tb, FILE *out)
{
	char insn[96], name[512];
	size_t i;
	int k;

	fprintf(out, "binary:    %s\n", tb->path);
	fprintf(out, "build id:  %s\n", tb->build_id[0] ? tb->build_id : "none");
	fprintf(out, "tokio:     %s\n", tb->tokio_version ? tb->tokio_version : "unknown");
	fprintf(out, "mangling:  %s\n", mangling_name(tb->mangling));
	fprintf(out, "type:      %s, %zu function symbols\n", tb->pie ? "PIE" : "non-PIE",
		tb->nr_symbols);

	fprintf(out, "\nhooks:\n");
	for (k = 0; k < HOOK__MAX; k++) {
		size_t n = tokio_bin__count(tb, k);

		if (n)
			fprintf(out, "  %-15s %zu site%s\n", hook_kind_name(k), n, n == 1 ? "" : "s");
		else
			fprintf(out, "  %-15s not found (inlined or unused): %s\n", hook_kind_name(k),
				hook_kind_missing(k));
	}

	fprintf(out, "\nprobe sites:\n");
	fprintf(out, "  %-15s %-12s %-10s %-12s %-28s %s\n", "hook", "address", "file off",
		"cost", "instruction", "symbol");
	for (i = 0; i < tb->nr_sites; i++) {
		const struct probe_site *s = &tb->sites[i];

		insn_text(s, insn, sizeof(insn));
		short_name(s, name, sizeof(name));
		fprintf(out, "  %-15s 0x%-10" PRIx64 " 0x%-8" PRIx64 " %-12s %-28s %s",
			hook_kind_name(s->kind), s->vaddr, s->file_off, site_class_name(s->cls),
			insn, name);
		if (s->moved)
			fprintf(out, " (moved +0x%" PRIx64 " from a %s entry)",
				s->vaddr - s->sym_vaddr, site_class_name(s->entry_cls));
		else if ((s->cls == SITE_SINGLE_STEP || s->cls == SITE_REFUSED) && s->stay_why)
			fprintf(out, " (not moved: %s)", s->stay_why);
		if (s->vtable_idx >= 0)
			fprintf(out, " [vtable %d]", s->vtable_idx);
		fputc('\n', out);
	}

	fprintf(out, "\ntask vtables:\n");
	fprintf(out, "  %-3s %-12s %-12s %7s %5s %5s  %-14s %s\n", "#", "address", "poll",
		"trailer", "sched", "id", "scheduler", "future type");
	for (i = 0; i < tb->nr_vtables; i++) {
		const struct task_vtable *v = &tb->vtables[i];

		fprintf(out, "  %-3zu 0x%-10" PRIx64 " 0x%-10" PRIx64 " %7" PRIu64 " %5" PRIu64
			     " %5" PRIu64 "  %-14s %s\n",
			i, v->vaddr, v->poll, v->trailer_offset, v->scheduler_offset, v->id_offset,
			v->scheduler ? v->scheduler : "?", v->future_type ? v->future_type : "?");
	}
	fprintf(out, "future types: %zu of %zu named%s%s\n", tb->nr_types_named, tb->nr_vtables,
		tb->types_why ? ": " : "", tb->types_why ? tb->types_why : "");
}

void tokio_bin__json_fields(const struct tokio_bin *tb, struct json_writer *w)
{
	char insn[96];
	size_t i;
	int k;

	json_writer__key(w, "path");
	json_writer__string(w, tb->path);
	json_writer__key(w, "build_id");
	json_writer__string(w, tb->build_id[0] ? tb->build_id : NULL);
	json_writer__key(w, "tokio_version");
	json_writer__string(w, tb->tokio_version);
	json_writer__key(w, "mangling");
	json_writer__string(w, mangling_name(tb->mangling));
	json_writer__key(w, "pie");
	json_writer__bool(w, tb->pie);
	json_writer__key(w, "function_symbols");
	json_writer__u64(w, tb->nr_symbols);

	json_writer__key(w, "hooks");
	json_writer__begin_object(w);
	for (k = 0; k < HOOK__MAX; k++) {
		size_t n = tokio_bin__count(tb, k);

		json_writer__key(w, hook_kind_name(k));
		json_writer__begin_object(w);
		json_writer__key(w, "count");
		json_writer__u64(w, n);
		json_writer__key(w, "missing");
		json_writer__string(w, n ? NULL : hook_kind_missing(k));
		json_writer__end_object(w);
	}
	json_writer__end_object(w);

	json_writer__key(w, "sites");
	json_writer__begin_array(w);
	for (i = 0; i < tb->nr_sites; i++) {
		const struct probe_site *s = &tb->sites[i];

		insn_text(s, insn, sizeof(insn));
		json_writer__begin_object(w);
		json_writer__key(w, "hook");
		json_writer__string(w, hook_kind_name(s->kind));
		json_writer__key(w, "symbol");
		json_writer__string(w, s->sym);
		json_writer__key(w, "name");
		json_writer__string(w, s->name);
		json_writer__key(w, "sym_vaddr");
		json_writer__u64(w, s->sym_vaddr);
		json_writer__key(w, "sym_size");
		json_writer__u64(w, s->sym_size);
		json_writer__key(w, "vaddr");
		json_writer__u64(w, s->vaddr);
		json_writer__key(w, "file_offset");
		json_writer__u64(w, s->file_off);
		json_writer__key(w, "instruction");
		json_writer__string(w, insn);
		json_writer__key(w, "cost");
		json_writer__string(w, site_class_name(s->cls));
		json_writer__key(w, "moved_by");
		json_writer__u64(w, s->vaddr - s->sym_vaddr);
		json_writer__key(w, "entry_cost");
		json_writer__string(w, site_class_name(s->entry_cls));
		json_writer__key(w, "not_moved_why");
		json_writer__string(w, !s->moved && (s->cls == SITE_SINGLE_STEP || s->cls == SITE_REFUSED) ? s->stay_why : NULL);
		json_writer__key(w, "vtable");
		if (s->vtable_idx >= 0)
			json_writer__i64(w, s->vtable_idx);
		else
			json_writer__null(w);
		json_writer__end_object(w);
	}
	json_writer__end_array(w);

	json_writer__key(w, "vtables");
	json_writer__begin_array(w);
	for (i = 0; i < tb->nr_vtables; i++) {
		const struct task_vtable *v = &tb->vtables[i];

		json_writer__begin_object(w);
		json_writer__key(w, "vaddr");
		json_writer__u64(w, v->vaddr);
		json_writer__key(w, "poll");
		json_writer__u64(w, v->poll);
		json_writer__key(w, "trailer_offset");
		json_writer__u64(w, v->trailer_offset);
		json_writer__key(w, "scheduler_offset");
		json_writer__u64(w, v->scheduler_offset);
		json_writer__key(w, "id_offset");
		json_writer__u64(w, v->id_offset);
		json_writer__key(w, "scheduler");
		json_writer__string(w, v->scheduler);
		json_writer__key(w, "future_type");
		json_writer__string(w, v->future_type);
		json_writer__end_object(w);
	}
	json_writer__end_array(w);
	json_writer__key(w, "types_named");
	json_writer__u64(w, tb->nr_types_named);
	json_writer__key(w, "types_why");
	json_writer__string(w, tb->types_why);
}

void tokio_bin__print_json(const struct tokio_bin *tb, FILE *out)
{
	struct json_writer *w = json_writer__new(out, JSON_WRITER_PRETTY);

	if (!w)
		return;
	json_writer__begin_object(w);
	tokio_bin__json_fields(tb, w);
	json_writer__end_object(w);
	if (json_writer__close(w))
		pr_warn("inspect: cannot write the JSON report\n");
}
