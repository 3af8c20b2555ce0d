// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ustat: language runtime events (method calls, GCs, allocations, class
 * loads, exceptions, thread starts) counted per process from the runtimes'
 * USDT probes.  One program serves every probe: its attach cookie is the
 * column the probe counts in.  The arguments are never read, so on kernels
 * with uprobe_multi links (6.6) the probes are plain uprobes at the probes'
 * locations (count_uprobe: they detach in parallel; a runtime process has
 * dozens); elsewhere libbpf's USDT attach (count_usdt). */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "ustat.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);			/* tgid */
	__type(value, struct ustat_counts);
} counts SEC(".maps");

static __always_inline int count(__u64 cat)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ustat_counts zero = {}, *c;

	if (cat >= CAT_COUNT)
		return 0;
	c = map_lookup_or_init(&counts, &tgid, &zero);
	if (c)
		__sync_fetch_and_add(&c->events[cat], 1);
	return 0;
}

SEC("usdt")
int count_usdt(struct pt_regs *ctx)
{
	return count(bpf_usdt_cookie(ctx));
}

SEC("uprobe")
int count_uprobe(struct pt_regs *ctx)
{
	return count(bpf_get_attach_cookie(ctx));
}
