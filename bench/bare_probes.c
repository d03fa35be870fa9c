// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bare_probes -p PID: the kernel's floor under asyncscope.  Resolves the
 * probe sites exactly as `asyncscope record` does (user/target.c,
 * user/tokio_bin.c, user/hooks.c, user/x86_site.c: same sites, same moved
 * entries, same hooks on by default), attaches programs there that only
 * count their hits (bpf/bench_bare.bpf.c) -- an entry probe on every site,
 * a return probe where asyncscope has one -- and waits.
 *
 * On stderr: "bare_probes: attached N probes ..." once the probes are live.
 * On SIGINT/SIGTERM, or when the process exits: the hits per hook as one
 * JSON line on stdout, then the probes are removed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench_bare.skel.h"
#include "hooks.h"
#include "log.h"
#include "percpu.h"
#include "target.h"
#include "uprobe_multi.h"

#define BARE_MAX_KINDS	16	/* bpf/bench_bare.bpf.c */

_Static_assert(HOOK__MAX <= BARE_MAX_KINDS, "bench_bare.bpf.c counts too few kinds");

struct bare_opts {
	uint32_t pid;
	const char *hooks;	/* --hooks spec, NULL: asyncscope's defaults */
	bool multi;		/* one uprobe_multi link per program, like the loader */
};

struct bare {
	struct bare_opts o;
	struct target *tgt;
	struct bench_bare_bpf *skel;
	bool enabled[HOOK__MAX];
	struct bpf_link **links;	/* perf-event links */
	size_t nr_links;
	struct uprobe_multi_set entry, ret;	/* uprobe_multi links */
	size_t nr_probes;
};

static int add_link(struct bare *b, struct bpf_link *l)
{
	struct bpf_link **n = realloc(b->links, (b->nr_links + 1) * sizeof(*n));

	if (!n) {
		bpf_link__destroy(l);
		return -ENOMEM;
	}
	b->links = n;
	b->links[b->nr_links++] = l;
	return 0;
}

/* One probe, either now (perf link) or added to the multi set attached later. */
static int probe(struct bare *b, bool ret, uint64_t off, enum hook_kind kind)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret, .bpf_cookie = kind);
	struct bpf_program *prog = ret ? b->skel->progs.bare_ret : b->skel->progs.bare_entry;
	struct bpf_link *l;
	int err;

	b->nr_probes++;
	if (b->o.multi)
		return uprobe_multi_set__add(ret ? &b->ret : &b->entry, off, kind);
	l = bpf_program__attach_uprobe_opts(prog, b->o.pid, b->tgt->exe_path, off, &o);
	if (!l) {
		err = -errno;
		pr_warn("bare_probes: cannot attach %s at 0x%llx: %s\n", ret ? "uretprobe" : "uprobe",
			(unsigned long long)off, strerror(-err));
		return err;
	}
	return add_link(b, l);
}

/* The same probes user/loader.c puts on each site. */
static int attach(struct bare *b)
{
	const struct tokio_bin *tb = b->tgt->bin;
	bool spawn_inner_ret;
	int err = 0;

	spawn_inner_ret = b->enabled[HOOK_BIND] ? tokio_bin__count(tb, HOOK_BIND) == 0 : true;
	for (size_t i = 0; i < tb->nr_sites && !err; i++) {
		const struct probe_site *s = &tb->sites[i];
		uint64_t entry = s->file_off - (s->vaddr - s->sym_vaddr);

		if (!b->enabled[s->kind] || s->cls == SITE_REFUSED)
			continue;
		switch (s->kind) {
		case HOOK_POLL:
			err = probe(b, true, entry, s->kind);
			if (!err)
				err = probe(b, false, s->file_off, s->kind);
			break;
		case HOOK_SPAWN_INNER:
			err = probe(b, false, s->file_off, s->kind);
			if (!err && spawn_inner_ret)
				err = probe(b, true, entry, s->kind);
			break;
		case HOOK_BIND:
			err = probe(b, true, entry, s->kind);
			break;
		default:
			err = probe(b, false, s->file_off, s->kind);
			break;
		}
	}
	if (err || !b->o.multi)
		return err;
	/* the return probes first, as the loader does */
	err = uprobe_multi_set__attach(&b->ret, bpf_program__fd(b->skel->progs.bare_ret),
				       b->tgt->exe_path, b->o.pid, true);
	if (!err)
		err = uprobe_multi_set__attach(&b->entry, bpf_program__fd(b->skel->progs.bare_entry),
					       b->tgt->exe_path, b->o.pid, false);
	if (err)
		pr_warn("bare_probes: cannot attach uprobe_multi links: %s\n", strerror(-err));
	return err;
}

static void detach(struct bare *b)
{
	for (size_t i = 0; i < b->nr_links; i++)
		bpf_link__destroy(b->links[i]);
	free(b->links);
	b->links = NULL;
	b->nr_links = 0;
	uprobe_multi_set__free(&b->entry);
	uprobe_multi_set__free(&b->ret);
}

static int print_hits(struct bare *b, FILE *out)
{
	uint64_t sum[2 * BARE_MAX_KINDS];
	const char *sep = "";
	int err;

	err = percpu__sum(bpf_map__fd(b->skel->maps.hits), 2 * BARE_MAX_KINDS, sum);
	if (err)
		return err;
	fprintf(out, "{\"pid\":%u,\"probes\":%zu,\"mode\":\"%s\",\"hits\":{", b->o.pid,
		b->nr_probes, b->o.multi ? "multi" : "perf");
	for (int k = 0; k < HOOK__MAX; k++) {
		fprintf(out, "%s\"%s\":%llu", sep, hook_kind_name(k), (unsigned long long)sum[k]);
		sep = ",";
		if (sum[BARE_MAX_KINDS + k] || k == HOOK_POLL)
			fprintf(out, ",\"%s_ret\":%llu", hook_kind_name(k),
				(unsigned long long)sum[BARE_MAX_KINDS + k]);
	}
	fprintf(out, "}}\n");
	fflush(out);
	return 0;
}

/* Until SIGINT/SIGTERM or the process exits. */
static void wait_stop(struct bare *b, int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = b->tgt->pidfd, .events = POLLIN },
	};

	while (poll(pfd, 2, -1) < 0 && errno == EINTR)
		;
}

static int parse_args(int argc, char **argv, struct bare_opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "hooks", required_argument, NULL, 'H' },
		{ "perf", no_argument, NULL, 'P' },
		{ "multi", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{},
	};
	char *end;
	long v;
	int c;

	*o = (struct bare_opts){ .multi = uprobe_multi__supported() };
	while ((c = getopt_long(argc, argv, "p:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 0x7fffffff)
				goto usage;
			o->pid = (uint32_t)v;
			break;
		case 'H':
			o->hooks = optarg;
			break;
		case 'P':
			o->multi = false;
			break;
		case 'M':
			o->multi = true;
			break;
		case 'v':
			log_verbosity++;
			break;
		default:
			goto usage;
		}
	}
	if (o->pid && optind == argc)
		return 0;
usage:
	fprintf(stderr, "usage: bare_probes -p PID [--hooks SPEC] [--perf | --multi] [-v]\n"
			"  counting probes on the sites 'asyncscope record -p PID' would use;\n"
			"  --perf: one perf-event link per probe, --multi: uprobe_multi links\n"
			"  (default: what the loader uses on this kernel)\n");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct bare b = {};
	sigset_t mask;
	char err[256];
	int sigfd = -1, rc;

	if (parse_args(argc, argv, &b.o))
		return 2;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		rc = -errno;
		goto cleanup;
	}
	rc = target__open_pid(b.o.pid, &b.tgt);
	if (rc)
		goto cleanup;
	if (b.o.hooks) {
		rc = hooks__parse(b.o.hooks, b.tgt->bin, b.enabled, err, sizeof(err));
		if (rc) {
			pr_warn("bare_probes: %s\n", err);
			goto cleanup;
		}
	} else {
		hooks__defaults(b.tgt->bin, b.enabled);
	}
	b.skel = bench_bare_bpf__open();
	if (!b.skel) {
		rc = -errno;
		pr_warn("bare_probes: cannot open the BPF object: %s\n", strerror(-rc));
		goto cleanup;
	}
	if (b.o.multi) {
		uprobe_multi__prepare(b.skel->progs.bare_entry);
		uprobe_multi__prepare(b.skel->progs.bare_ret);
	}
	rc = bench_bare_bpf__load(b.skel);
	if (rc) {
		pr_warn("bare_probes: cannot load the BPF object: %s\n", strerror(-rc));
		goto cleanup;
	}
	rc = attach(&b);
	if (rc)
		goto cleanup;
	fprintf(stderr, "bare_probes: attached %zu probes to pid %u (%s links)\n", b.nr_probes,
		b.o.pid, b.o.multi ? "uprobe_multi" : "perf-event");
	wait_stop(&b, sigfd);
	rc = print_hits(&b, stdout);
cleanup:
	detach(&b);
	bench_bare_bpf__destroy(b.skel);
	target__free(b.tgt);
	if (sigfd >= 0)
		close(sigfd);
	return rc ? 1 : 0;
}
