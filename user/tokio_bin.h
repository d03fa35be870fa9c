/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a tokio binary offers to uprobes, found offline from its ELF file:
 * the hook functions (with file offsets and the cost class of each probe
 * site), the task vtables (validated against the raw::poll they point to),
 * future type names, the tokio version.  No process is touched here.
 */
#ifndef ASYNCSCOPE_TOKIO_BIN_H
#define ASYNCSCOPE_TOKIO_BIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum hook_kind {
	HOOK_POLL = 0,		/* raw::poll<T,S>: entry + return */
	HOOK_WAKE_BY_VAL,	/* waker::wake_by_val */
	HOOK_WAKE_BY_REF,	/* waker::wake_by_ref */
	HOOK_CLONE_WAKER,	/* waker::clone_waker */
	HOOK_DROP_WAKER,	/* waker::drop_waker */
	HOOK_SCHEDULE,		/* raw::schedule<S> */
	HOOK_COMPLETE,		/* Harness<T,S>::complete */
	HOOK_SPAWN_INNER,	/* task::spawn::spawn_inner<T>: entry has &Location */
	HOOK_BIND,		/* OwnedTasks<S>::bind<T>: return has the Header */
	HOOK_SPAWN_BLOCKING,	/* blocking::pool::Spawner::spawn_task: rsi = Header */
	HOOK_SHUTDOWN,		/* raw::shutdown<T,S> */
	HOOK__MAX
};

const char *hook_kind_name(enum hook_kind kind);	/* "poll", "wake_by_val", ... */
/* Argument registers the hook reads at entry: a mask of enum x86_arg_reg (x86_site.h). */
uint32_t hook_kind_args(enum hook_kind kind);
/* 1 if the hook also needs a uretprobe, so its probe must stay at the entry. */
int hook_kind_retprobe(enum hook_kind kind);
/* What is lost when the hook is absent: "spawn locations unavailable, ..." */
const char *hook_kind_missing(enum hook_kind kind);

/* What the kernel does when a uprobe at this instruction is hit (x86-64). */
enum site_class {
	SITE_OPTIMIZED = 0,	/* nop5: call into a trampoline, ~0.4 us */
	SITE_EMULATED,		/* push/jmp/jcc/call/nop: emulated, ~0.6 us */
	SITE_SINGLE_STEP,	/* anything else: out-of-line single-step, ~12 us */
	SITE_REFUSED,		/* LOCK or ES/CS/SS/DS prefix: the kernel will not probe it */
};

const char *site_class_name(enum site_class cls);	/* "optimized", ... */

struct probe_site {
	enum hook_kind kind;
	char *sym;		/* mangled symbol name */
	char *name;		/* demangled, without the hash */
	uint64_t sym_vaddr;	/* the function's address */
	uint64_t sym_size;
	uint64_t vaddr;		/* the probe's address (>= sym_vaddr) */
	uint64_t file_off;	/* the probe's file offset: what uprobes take */
	enum site_class cls;
	uint8_t insn[16];	/* bytes at vaddr */
	uint8_t insn_len;	/* length of the instruction at vaddr */
	uint8_t moved;		/* 1 if vaddr != sym_vaddr (a cheaper later site) */
	int vtable_idx;		/* HOOK_POLL: index into vtables[], else -1 */
	enum site_class entry_cls;	/* class at sym_vaddr (differs when moved) */
	const char *stay_why;	/* static: why a single-step entry was not moved */
};

struct task_vtable {
	uint64_t vaddr;		/* address of the Vtable static */
	uint64_t poll;		/* slot 0: the raw::poll<T,S> it belongs to */
	uint64_t trailer_offset;
	uint64_t scheduler_offset;
	uint64_t id_offset;
	char *future_type;	/* "mt::workload::sleeper::{closure}" or NULL */
	char *scheduler;	/* "multi_thread", "current_thread", "blocking", "local" or NULL */
	uint64_t slots[7];	/* poll, schedule, dealloc, try_read_output,
				 * drop_join_handle_slow, drop_abort_handle, shutdown */
};

enum mangling { MANGLING_UNKNOWN = 0, MANGLING_LEGACY, MANGLING_V0 };

struct tokio_bin {
	char *path;
	char build_id[41];	/* hex, "" if none */
	char *tokio_version;	/* "1.24.2" or NULL when the binary does not say */
	enum mangling mangling;
	int pie;		/* ET_DYN */
	size_t nr_symbols;	/* function symbols read */
	struct probe_site *sites;
	size_t nr_sites;
	struct task_vtable *vtables;
	size_t nr_vtables;
	size_t nr_types_named;	/* vtables whose future_type is known */
	uint64_t next_id_vaddr;	/* tokio's task id counter (task::id::Id::next::NEXT_ID), 0 if absent */
	char *types_why;	/* why names are missing, NULL if all named */
};

/*
 * Open and analyse the ELF file at path.  On failure returns NULL with errno
 * set and, where a user can act on it, writes a one-line reason to err:
 *   ENOENT     no such file
 *   ENOEXEC    not an x86-64 ELF file
 *   ENODATA    stripped: no .symtab (not supported yet)
 *   ESRCH      no tokio runtime in the binary (no raw::poll symbol)
 *   EPROTO     a task vtable failed validation (unknown tokio layout)
 */
struct tokio_bin *tokio_bin__open(const char *path, char *err, size_t errlen);
void tokio_bin__free(struct tokio_bin *tb);

/* Number of sites of a kind (0 when the hook is absent, e.g. inlined). */
size_t tokio_bin__count(const struct tokio_bin *tb, enum hook_kind kind);

/* Human-readable report for `asyncscope inspect`. */
void tokio_bin__print(const struct tokio_bin *tb, FILE *out);
void tokio_bin__print_json(const struct tokio_bin *tb, FILE *out);
/* The same keys, into an object the caller opened (to add its own). */
struct json_writer;
void tokio_bin__json_fields(const struct tokio_bin *tb, struct json_writer *w);

#endif
