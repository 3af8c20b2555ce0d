// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* swapin: pages read back from swap, per process.  Only a kernel function
 * carries this (swap_read_folio, swap_readpage before 6.x): fentry or
 * kprobe, Python sets the name this kernel has. */
#include "corebpf.bpf.h"

struct swap_key {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct swap_key);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int swapped_in(void)
{
	struct swap_key key = { .pid = current_tgid() };
	static const __u64 zero;
	__u64 *n;

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	n = map_lookup_or_init(&counts, &key, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("fentry")
int BPF_PROG(swap__fentry)
{
	return swapped_in();
}

SEC("kprobe")
int swap__kprobe(void *ctx)
{
	return swapped_in();
}
