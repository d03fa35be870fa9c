// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bare probes for bench/bare_probes: attached to exactly the sites
 * asyncscope uses, they do nothing but count their hits (per hook kind, the
 * attach cookie), so what a traced program pays with them attached is the
 * floor the kernel's uprobe mechanism sets on those sites.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BARE_MAX_KINDS	16	/* >= HOOK__MAX (user/tokio_bin.h) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * BARE_MAX_KINDS);	/* entries, then returns */
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &idx);

	if (v)
		*v += 1;
}

SEC("uprobe")
int bare_entry(struct pt_regs *ctx)
{
	bump((__u32)bpf_get_attach_cookie(ctx) % BARE_MAX_KINDS);
	return 0;
}

SEC("uretprobe")
int bare_ret(struct pt_regs *ctx)
{
	bump(BARE_MAX_KINDS + (__u32)bpf_get_attach_cookie(ctx) % BARE_MAX_KINDS);
	return 0;
}
