// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cachestat: page cache hits and misses, system wide (probes in
 * pagecache.bpf.h). */
#include "corebpf.bpf.h"
#include "pagecache.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cs_counts);
} counts SEC(".maps");

static __always_inline void add(__u32 which, __u64 n)
{
	__u32 zero = 0;
	struct cs_counts *c = bpf_map_lookup_elem(&counts, &zero);

	if (c && which < CS_MAX)
		c->n[which & 3] += n;
}
