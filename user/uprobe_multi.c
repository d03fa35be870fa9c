// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "array.h"
#include "uprobe_multi.h"

/*
 * From the kernel's UAPI (include/uapi/linux/bpf.h, Linux 6.6): Debian 12's
 * headers are 6.1 and know neither the attach type nor the attr layout.
 */
#define AS_BPF_TRACE_UPROBE_MULTI	48
#define AS_BPF_F_UPROBE_MULTI_RETURN	(1u << 0)

/* union bpf_attr, BPF_LINK_CREATE, .uprobe_multi */
struct as_link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
	__u32 pad;
};

_Static_assert(sizeof(struct as_link_create_uprobe_multi) <= sizeof(union bpf_attr),
	       "the uprobe_multi attr must fit union bpf_attr");

static int link_create(const struct as_link_create_uprobe_multi *a)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	memcpy(&attr, a, sizeof(*a));
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

/*
 * The kernel checks the path before anything else it does with a valid
 * request: a directory gets EBADF where uprobe_multi exists, EINVAL where
 * the attach type is unknown.
 */
static bool probe_support(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = AS_BPF_TRACE_UPROBE_MULTI);
	struct as_link_create_uprobe_multi a = {};
	uint64_t off = 0;
	int prog, fd;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "as_probe_umulti", "GPL", insns, 2, &o);
	if (prog < 0)
		return false;
	a.prog_fd = prog;
	a.attach_type = AS_BPF_TRACE_UPROBE_MULTI;
	a.path = (uintptr_t)"/";
	a.offsets = (uintptr_t)&off;
	a.cnt = 1;
	fd = link_create(&a);
	if (fd >= 0)
		close(fd);
	close(prog);
	return fd == -EBADF;
}

bool uprobe_multi__supported(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = probe_support();
	return cached;
}

int uprobe_multi__prepare(struct bpf_program *prog)
{
	return bpf_program__set_expected_attach_type(prog, AS_BPF_TRACE_UPROBE_MULTI);
}

int uprobe_multi_set__add(struct uprobe_multi_set *s, uint64_t file_off, uint64_t cookie)
{
	size_t cap = s->cap;
	int err;

	err = array__grow((void **)&s->offsets, &cap, s->nr + 1, sizeof(*s->offsets));
	if (err)
		return err;
	cap = s->cap;
	err = array__grow((void **)&s->cookies, &cap, s->nr + 1, sizeof(*s->cookies));
	if (err)
		return err;
	s->cap = cap;
	s->offsets[s->nr] = file_off;
	s->cookies[s->nr] = cookie;
	s->nr++;
	return 0;
}

int uprobe_multi_set__attach(struct uprobe_multi_set *s, int prog_fd, const char *path,
			     uint32_t pid, bool ret)
{
	struct as_link_create_uprobe_multi a = {
		.prog_fd = (__u32)prog_fd,
		.attach_type = AS_BPF_TRACE_UPROBE_MULTI,
		.path = (uintptr_t)path,
		.offsets = (uintptr_t)s->offsets,
		.cookies = (uintptr_t)s->cookies,
		.cnt = (__u32)s->nr,
		.multi_flags = ret ? AS_BPF_F_UPROBE_MULTI_RETURN : 0,
		.pid = pid,
	};
	int fd;

	if (s->attached)
		return -EBUSY;
	if (!s->nr)
		return 0;
	fd = link_create(&a);
	if (fd < 0)
		return fd;
	s->link_fd = fd;
	s->attached = true;
	return 0;
}

void uprobe_multi_set__free(struct uprobe_multi_set *s)
{
	if (s->attached)
		close(s->link_fd);
	free(s->offsets);
	free(s->cookies);
	memset(s, 0, sizeof(*s));
}
