// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cachetop: page cache accesses, additions and dirtying per process (probes
 * in pagecache.bpf.h). */
#include "corebpf.bpf.h"
#include "pagecache.bpf.h"

struct pc_key {
	__u32 nf;               /* enum cs_counter */
	__u32 pid;
	__u32 uid;
	char comm[16];
};

const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct pc_key);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void add(__u32 which, __u64 n)
{
	struct pc_key key = { .nf = which, .pid = current_tgid(), .uid = current_uid() };
	static const __u64 zero;
	__u64 *v;

	if (targ_tgid && key.pid != targ_tgid)
		return;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	v = map_lookup_or_init(&counts, &key, &zero);
	if (v)
		__sync_fetch_and_add(v, n);
}
