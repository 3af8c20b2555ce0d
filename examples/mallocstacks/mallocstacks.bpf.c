// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/mallocstacks.py: bytes malloc()ed per user stack of
 * one process.  The stack map's size is set from Python before load. */
#include "corebpf.bpf.h"

#define MAX_STACK_DEPTH 127

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, int);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(alloc_enter, size_t size)
{
	static const __u64 zero;
	int key = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	__u64 *val;

	if (key < 0)
		return 0;
	val = map_lookup_or_init(&calls, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, size);
	return 0;
}
