// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dcstat: dcache lookups (bcc's measure): REFS = lookup_fast() calls (one
 * per path component looked up), SLOW = d_lookup() calls (the fast path
 * failed), MISS = d_lookup() calls that found nothing.  Only kernel
 * functions carry this: fentry/fexit, or kprobes (Python attaches the kprobe
 * on lookup_fast to this kernel's name of it, .constprop.N included). */
#include "corebpf.bpf.h"

__u64 refs = 0;
__u64 slow = 0;
__u64 miss = 0;

static __always_inline int looked_up(void *found)
{
	__sync_fetch_and_add(&slow, 1);
	if (!found)
		__sync_fetch_and_add(&miss, 1);
	return 0;
}

SEC("fentry/lookup_fast")
int BPF_PROG(fast__fentry)
{
	__sync_fetch_and_add(&refs, 1);
	return 0;
}

SEC("fexit/d_lookup")
int BPF_PROG(dlookup__fentry, const struct dentry *parent, const struct qstr *name,
	     struct dentry *ret)
{
	return looked_up(ret);
}

SEC("kprobe")
int fast__kprobe(void *ctx)
{
	__sync_fetch_and_add(&refs, 1);
	return 0;
}

SEC("kretprobe/d_lookup")
int BPF_KRETPROBE(dlookup__kprobe, void *ret)
{
	return looked_up(ret);
}
