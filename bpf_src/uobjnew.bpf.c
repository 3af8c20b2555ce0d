// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uobjnew: allocations of one process by type (USDT: JVM object__alloc,
 * Ruby object/string/hash/array__create, Tcl obj__create) or by size (C:
 * uprobe on libc malloc). */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "uobjnew.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct alloc_key);
	__type(value, struct alloc_val);
} allocs SEC(".maps");

static __always_inline void count(struct alloc_key *k, __u64 size)
{
	struct alloc_val zero = {}, *v = map_lookup_or_init(&allocs, k, &zero);

	if (v) {
		__sync_fetch_and_add(&v->num_allocs, 1);
		/* not for probes without a size: clang turns an atomic add of a
		 * constant 0 into an atomic or, which kernels before 5.12 refuse */
		if (size)
			__sync_fetch_and_add(&v->total_size, size);
	}
}

SEC("uprobe")
int BPF_KPROBE(malloc_entry, __u64 size)
{
	struct alloc_key k = { .size = size };

	count(&k, size);
	return 0;
}

/* hotspot object__alloc(thread id, class name, name length, size) */
SEC("usdt")
int java_alloc(struct pt_regs *ctx)
{
	struct alloc_key k = {};
	long cls = 0, len = 0, size = 0;

	bpf_usdt_arg(ctx, 1, &cls);
	bpf_usdt_arg(ctx, 2, &len);
	bpf_usdt_arg(ctx, 3, &size);
	if (len > (long)sizeof(k.name) - 1)
		len = sizeof(k.name) - 1;
	if (cls && len > 0)
		bpf_probe_read_user(k.name, (__u32)len, (void *)cls);
	count(&k, size);
	return 0;
}

/* ruby object__create(class name, file, line): no size */
SEC("usdt")
int ruby_object(struct pt_regs *ctx)
{
	struct alloc_key k = {};
	long cls = 0;

	bpf_usdt_arg(ctx, 0, &cls);
	bpf_probe_read_user_str(k.name, sizeof(k.name), (void *)cls);
	count(&k, 0);
	return 0;
}

/* ruby string/hash/array__create(length or count, file, line); the cookie
 * says which (1 string, 2 hash, 3 array) */
SEC("usdt")
int ruby_builtin(struct pt_regs *ctx)
{
	struct alloc_key k = {};
	long size = 0;
	__u64 c = bpf_usdt_cookie(ctx);

	bpf_usdt_arg(ctx, 0, &size);
	if (c == 1)
		__builtin_memcpy(k.name, "string", 7);
	else if (c == 2)
		__builtin_memcpy(k.name, "hash", 5);
	else
		__builtin_memcpy(k.name, "array", 6);
	count(&k, size);
	return 0;
}

SEC("usdt")
int tcl_alloc(struct pt_regs *ctx)
{
	struct alloc_key k = {};

	__builtin_memcpy(k.name, "<ALL>", 6);
	count(&k, 0);
	return 0;
}
