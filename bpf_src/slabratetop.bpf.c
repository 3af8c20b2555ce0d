// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* slabratetop: kmem_cache_alloc() calls and bytes per slab cache.
 * kmem:kmem_cache_alloc names its cache since Linux 6.1: tp_btf (the
 * struct kmem_cache argument: name, object size) -> classic tracepoint (the
 * name field, bytes_alloc) -> kprobe on kmem_cache_alloc (bcc's; Python picks
 * its name: kmem_cache_alloc_noprof since 6.10). */
#include "corebpf.bpf.h"
#include "slabratetop.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cache_key);
	__type(value, struct cache_val);
} counts SEC(".maps");

static __always_inline int count(const char *name, bool kernel_name, __u64 size)
{
	static const struct cache_val zero;
	struct cache_key key = {};
	struct cache_val *v;

	if (kernel_name)
		bpf_probe_read_kernel_str(key.name, sizeof(key.name), name);
	else
		__builtin_memcpy(key.name, name, sizeof(key.name));
	v = map_lookup_or_init(&counts, &key, &zero);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->size, size);
	}
	return 0;
}

static __always_inline int cache_alloc(struct kmem_cache *s)
{
	return count(BPF_CORE_READ(s, name), true, BPF_CORE_READ(s, size));
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(alloc__btf, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	return cache_alloc(s);
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int alloc__tp(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	char name[CACHE_NAME_SIZE] = {};
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_name);

	bpf_probe_read_kernel_str(name, sizeof(name), (void *)ctx + (loc & 0xFFFF));
	return count(name, false, BPF_CORE_READ(ctx, bytes_alloc));
}

SEC("kprobe")
int BPF_KPROBE(alloc__kprobe, struct kmem_cache *s)
{
	return cache_alloc(s);
}
