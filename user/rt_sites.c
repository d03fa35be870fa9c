// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "array.h"
#include "asyncscope.h"
#include "demangle.h"
#include "elf_file.h"
#include "json_writer.h"
#include "rt_sites.h"
#include "x86_site.h"

uint32_t rt_sites__probes_of(const char *path)
{
	if (!path)
		return 0;
	/*
	 * As demangle__path writes them: a legacy name of an inherent impl's
	 * method keeps only the module ("tokio::runtime::time::<impl ..Handle>::f").
	 */
	if (!strcmp(path, "tokio::runtime::time::process_at_time") ||
	    !strcmp(path, "tokio::runtime::time::handle::Handle::process_at_time"))
		return RT_SITE_TIMERS | RT_SITE_DONE;
	if (!strcmp(path, "tokio::runtime::io::Driver::turn"))
		return RT_SITE_DONE;
	return 0;
}

void rt_sites__free(struct rt_site *sites, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(sites[i].name);
	free(sites);
}

/* Return probes sit at the entry whatever its cost, like tokio_bin's poll hook. */
static int resolve(const struct elf_file *ef, const struct elf_sym *sym, struct rt_site *s)
{
	size_t len = sym->size && sym->size < 4096 ? sym->size : 16;
	const uint8_t *code = NULL;

	s->sym_vaddr = sym->value;
	s->vaddr = sym->value;
	while (len && !(code = elf_file__ptr(ef, sym->value, len)))
		len--;
	if (!code)
		return -ENOEXEC;
	if (x86_site__classify(code, len, sym->value, &s->cls) < 0)
		s->cls = SITE_SINGLE_STEP;
	if (x86_site__format(code, len, sym->value, s->insn, sizeof(s->insn)) < 0)
		snprintf(s->insn, sizeof(s->insn), "(bad)");
	return elf_file__vaddr_to_off(ef, s->vaddr, &s->file_off) ? -ENOEXEC : 0;
}

static int add(struct rt_site **sites, size_t *cap, size_t *cnt, const struct elf_file *ef,
	       const struct elf_sym *sym, const char *path, uint32_t phase, bool ret)
{
	struct rt_site *s;
	int err;

	for (size_t j = 0; j < *cnt; j++)
		if ((*sites)[j].sym_vaddr == sym->value && (*sites)[j].ret == ret)
			return 0;	/* an alias, or the .dynsym copy */
	err = array__grow((void **)sites, cap, *cnt + 1, sizeof(**sites));
	if (err)
		return err;
	s = &(*sites)[(*cnt)++];
	memset(s, 0, sizeof(*s));
	s->phase = phase;
	s->ret = ret;
	s->name = strdup(path);
	if (!s->name)
		return -ENOMEM;
	return resolve(ef, sym, s);
}

static bool has_timers(const struct rt_site *sites, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sites[i].phase == AS_RT_TIMERS)
			return true;
	return false;
}

int rt_sites__find(const char *path, struct rt_site **out, size_t *nr)
{
	struct rt_site *sites = NULL;
	const struct elf_sym *syms;
	struct elf_file *ef;
	size_t n, cap = 0, cnt = 0;
	int err = 0;

	*out = NULL;
	*nr = 0;
	ef = elf_file__open(path);
	if (!ef)
		return -errno;
	syms = elf_file__syms(ef, &n);
	for (size_t i = 0; i < n && !err; i++) {
		const char *name = syms[i].name;
		char *dm, *p;
		uint32_t probes;

		/* the mangled name first: only a few of ~10^4 symbols get demangled */
		if (!strstr(name, "5tokio") ||
		    !(strstr(name, "15process_at_time") || strstr(name, "6Driver4turn")))
			continue;
		dm = demangle__rust(name);
		p = dm ? demangle__path(dm) : NULL;
		probes = rt_sites__probes_of(p);
		if (probes & RT_SITE_TIMERS)
			err = add(&sites, &cap, &cnt, ef, &syms[i], p, AS_RT_TIMERS, false);
		if (!err && (probes & RT_SITE_DONE))
			err = add(&sites, &cap, &cnt, ef, &syms[i], p, AS_RT_DRIVER_DONE, true);
		free(p);
		free(dm);
	}
	elf_file__free(ef);
	if (err) {
		rt_sites__free(sites, cnt);
		return err;
	}
	/*
	 * With the time driver's process_at_time there, its entry ends the I/O
	 * phase (park_internal runs it right after the I/O turn): the turn's
	 * return probe, ~1 us on every park, is not needed.
	 */
	if (has_timers(sites, cnt)) {
		size_t k = 0;

		for (size_t j = 0; j < cnt; j++) {
			if (!sites[j].ret || sites[j].phase != AS_RT_DRIVER_DONE ||
			    rt_sites__probes_of(sites[j].name) & RT_SITE_TIMERS)
				sites[k++] = sites[j];
			else
				free(sites[j].name);
		}
		cnt = k;
	}
	*out = sites;
	*nr = cnt;
	return 0;
}

static const char *phase_name(const struct rt_site *s)
{
	return s->phase == AS_RT_TIMERS ? "timers" : "driver done";
}

void rt_sites__print(const struct rt_site *sites, size_t nr, FILE *out)
{
	fprintf(out, "  %-12s %-7s %-12s %-10s %-12s %-28s %s\n", "phase", "probe", "address",
		"file off", "cost", "instruction", "function");
	for (size_t i = 0; i < nr; i++) {
		const struct rt_site *s = &sites[i];

		fprintf(out, "  %-12s %-7s 0x%-10" PRIx64 " 0x%-8" PRIx64 " %-12s %-28s %s%s\n",
			phase_name(s), s->ret ? "return" : "entry", s->vaddr, s->file_off,
			site_class_name(s->cls), s->insn, s->name,
			rt_site__probed(s) ? "" : " (not probed: single-stepped)");
	}
}

void rt_sites__json(const struct rt_site *sites, size_t nr, struct json_writer *w)
{
	json_writer__begin_array(w);
	for (size_t i = 0; i < nr; i++) {
		const struct rt_site *s = &sites[i];

		json_writer__begin_object(w);
		json_writer__kv_str(w, "phase", phase_name(s));
		json_writer__key(w, "return_probe");
		json_writer__bool(w, s->ret);
		json_writer__kv_str(w, "name", s->name);
		json_writer__kv_u64(w, "vaddr", s->vaddr);
		json_writer__kv_u64(w, "file_offset", s->file_off);
		json_writer__kv_str(w, "instruction", s->insn);
		json_writer__kv_str(w, "cost", site_class_name(s->cls));
		json_writer__key(w, "probed");
		json_writer__bool(w, rt_site__probed(s));
		json_writer__end_object(w);
	}
	json_writer__end_array(w);
}
