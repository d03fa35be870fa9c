// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "percpu.h"
#include "rt_sites.h"
#include "sock.skel.h"
#include "sock_loader.h"

#define NR_PIDS (sizeof(((struct sock_bpf *)0)->bss->sock_pids) / sizeof(uint32_t))

struct sock_proc {
	uint32_t pid;
	struct bpf_link **links;
	size_t nr_links;
};

struct sock_tracer {
	struct sock_bpf *skel;
	struct sock_proc procs[NR_PIDS];
};

static struct sock_proc *find_proc(struct sock_tracer *s, uint32_t pid)
{
	for (size_t i = 0; i < NR_PIDS; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

static int reuse(struct bpf_map *map, int fd)
{
	int err = bpf_map__reuse_fd(map, fd);

	if (err)
		pr_warn("bpf: cannot share map '%s' with the socket programs: %s\n",
			bpf_map__name(map), strerror(-err));
	return err;
}

struct sock_tracer *sock_tracer__new(const struct sock_tracer_opts *opts)
{
	struct sock_tracer *s;
	int err;

	if (!opts || opts->sz < sizeof(*opts)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->skel = sock_bpf__open();
	if (!s->skel) {
		err = -errno;
		pr_warn("bpf: cannot open the socket programs: %s\n", strerror(-err));
		goto fail;
	}
	err = reuse(s->skel->maps.events, opts->events_fd) ?:
	      reuse(s->skel->maps.counters, opts->counters_fd) ?:
	      reuse(s->skel->maps.threads, opts->threads_fd);
	if (err)
		goto fail;
	/* per process, at an offset in its binary: attached by add_process */
	bpf_program__set_autoattach(s->skel->progs.rt_phase, false);
	err = sock_bpf__load(s->skel);
	if (err) {
		pr_warn("bpf: cannot load the socket programs: %s%s\n", strerror(-err),
			log_verbosity < LOG_INFO ? " (run with -v for the verifier log)" : "");
		goto fail;
	}
	/* tracepoints: once, for every process; sock_pids lets only the traced ones through */
	err = sock_bpf__attach(s->skel);
	if (err) {
		pr_warn("bpf: cannot attach the socket tracepoints: %s\n", strerror(-err));
		goto fail;
	}
	return s;
fail:
	sock_tracer__free(s);
	errno = -err;
	return NULL;
}

static int attach_sites(struct sock_tracer *s, struct sock_proc *p, const char *bin_path,
			const char *elf_path)
{
	struct rt_site *sites;
	size_t nr;
	int err;

	err = rt_sites__find(elf_path, &sites, &nr);
	if (err) {
		pr_info("io: cannot read tokio's driver functions in '%s': %s\n",
			elf_path, strerror(-err));
		return 0;
	}
	p->links = calloc(nr ?: 1, sizeof(*p->links));
	if (!p->links) {
		rt_sites__free(sites, nr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = sites[i].phase, .retprobe = sites[i].ret);
		struct bpf_link *l;

		if (!rt_site__probed(&sites[i])) {
			/* ~12 us a hit on every park: not worth a phase marker */
			pr_info("io: no probe on %s: its entry would be single-stepped; wakes after it are classified without it\n",
				sites[i].name);
			continue;
		}
		l = bpf_program__attach_uprobe_opts(s->skel->progs.rt_phase, p->pid, bin_path,
						    sites[i].file_off, &o);
		if (!l) {
			/* the sockets are still traced; wakes are classified without this marker */
			pr_warn("io: cannot attach rt_phase%s to %s+0x%llx in pid %u: %s\n",
				sites[i].ret ? " (return)" : "", bin_path,
				(unsigned long long)sites[i].file_off, p->pid, strerror(errno));
			continue;
		}
		p->links[p->nr_links++] = l;
		pr_debug("io: phase %u marker at the %s of %s (0x%llx)\n", sites[i].phase,
			 sites[i].ret ? "return" : "entry", sites[i].name,
			 (unsigned long long)sites[i].vaddr);
	}
	rt_sites__free(sites, nr);
	return 0;
}

int sock_tracer__add_process(struct sock_tracer *s, uint32_t pid, const char *bin_path,
			     const char *elf_path)
{
	struct sock_proc *p;
	int err;

	if (!pid)
		return -EINVAL;
	if (find_proc(s, pid))
		return -EEXIST;
	p = find_proc(s, 0);
	if (!p)
		return -E2BIG;
	p->pid = pid;
	err = attach_sites(s, p, bin_path, elf_path);
	if (err) {
		sock_tracer__remove_process(s, pid);
		return err;
	}
	for (size_t i = 0; i < NR_PIDS; i++) {
		if (!s->skel->bss->sock_pids[i]) {
			s->skel->bss->sock_pids[i] = pid;
			break;
		}
	}
	return 0;
}

int sock_tracer__stop_process(struct sock_tracer *s, uint32_t pid)
{
	if (!s || !pid || !find_proc(s, pid))
		return -ENOENT;
	for (size_t i = 0; i < NR_PIDS; i++)
		if (s->skel->bss->sock_pids[i] == pid)
			s->skel->bss->sock_pids[i] = 0;
	return 0;
}

int sock_tracer__remove_process(struct sock_tracer *s, uint32_t pid)
{
	struct sock_proc *p;

	if (!s || !pid)
		return -ENOENT;
	p = find_proc(s, pid);
	if (!p)
		return -ENOENT;
	sock_tracer__stop_process(s, pid);
	for (size_t i = 0; i < p->nr_links; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	memset(p, 0, sizeof(*p));
	return 0;
}

size_t sock_tracer__nr_probes(const struct sock_tracer *s, uint32_t pid)
{
	for (size_t i = 0; s && pid && i < NR_PIDS; i++)
		if (s->procs[i].pid == pid)
			return s->procs[i].nr_links;
	return 0;
}

int sock_tracer__counters(const struct sock_tracer *s, uint64_t out[AS_SCNT__MAX])
{
	return percpu__sum(bpf_map__fd(s->skel->maps.sock_counters), AS_SCNT__MAX, out);
}

void sock_tracer__free(struct sock_tracer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < NR_PIDS; i++)
		if (s->procs[i].pid)
			sock_tracer__remove_process(s, s->procs[i].pid);
	sock_bpf__destroy(s->skel);
	free(s);
}
