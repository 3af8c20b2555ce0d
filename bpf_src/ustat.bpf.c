// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ustat: language runtime events (method calls, GCs, allocations, class
 * loads, exceptions, thread starts) counted per process from the runtimes'
 * USDT probes.  One program serves every probe: its attach cookie is the
 * column the probe counts in. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "ustat.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);			/* tgid */
	__type(value, struct ustat_counts);
} counts SEC(".maps");

SEC("usdt")
int event(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 cat = bpf_usdt_cookie(ctx);
	struct ustat_counts zero = {}, *c;

	if (cat >= CAT_COUNT)
		return 0;
	c = map_lookup_or_init(&counts, &tgid, &zero);
	if (c)
		__sync_fetch_and_add(&c->events[cat], 1);
	return 0;
}
