// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* readahead: pages read ahead and then used, with their age when first
 * used, and pages read ahead and (not yet) used.  Pages allocated for the
 * page cache while a thread is inside the readahead function are born;
 * mark_page_accessed()/folio_mark_accessed() on one of them uses it.  Only
 * kernel functions carry this: fentry/fexit or kprobes, on whichever names
 * this kernel has (Python sets the targets: do_page_cache_ra or
 * page_cache_ra_order, filemap_alloc_folio(_noprof) or __page_cache_alloc,
 * folio_mark_accessed or mark_page_accessed).  A folio's address is its
 * first page's, so both generations key the same. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"

struct hist {
	__u64 slots[HIST_SLOTS];
};

/* a page read ahead: when, and for whom (--containers: the cgroup of the
 * task whose read ran the readahead; else 0) */
struct birth {
	__u64 ts;
	__u64 cgroup;
};

__s64 pages = 0;                /* born minus used */

struct {                        /* age of used pages, ms (bcc's slots), by cgroup */
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct hist);
} dist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u8);
} in_readahead SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, struct birth);
} birth SEC(".maps");

static __always_inline int ra_enter(void)
{
	__u32 tid = current_tid();
	__u8 one = 1;

	bpf_map_update_elem(&in_readahead, &tid, &one, BPF_ANY);
	return 0;
}

static __always_inline int ra_exit(void)
{
	__u32 tid = current_tid();

	bpf_map_delete_elem(&in_readahead, &tid);
	return 0;
}

static __always_inline int allocated(__u64 page)
{
	__u32 tid = current_tid();
	struct birth b;

	if (!page || !bpf_map_lookup_elem(&in_readahead, &tid))
		return 0;
	b.ts = bpf_ktime_get_ns();
	b.cgroup = event_cgroup_id();
	bpf_map_update_elem(&birth, &page, &b, BPF_ANY);
	__sync_fetch_and_add(&pages, 1);
	return 0;
}

static __always_inline int accessed(__u64 page)
{
	struct birth *b = bpf_map_lookup_elem(&birth, &page);
	static const struct hist zero;
	struct hist *h;

	if (!b)
		return 0;
	h = map_lookup_or_init(&dist, &b->cgroup, &zero);
	if (h)
		HIST_INC(h, hist_slot((bpf_ktime_get_ns() - b->ts) / 1000000));
	__sync_fetch_and_add(&pages, -1);
	bpf_map_delete_elem(&birth, &page);
	return 0;
}

SEC("fentry")
int BPF_PROG(ra_enter__fentry)
{
	return ra_enter();
}

SEC("fexit")
int BPF_PROG(ra_exit__fentry)
{
	return ra_exit();
}

SEC("fexit")
int BPF_PROG(alloc__fentry)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);        /* after 1 or 2 arguments, by kernel */
	return allocated(ret);
}

SEC("fentry")
int BPF_PROG(access__fentry, __u64 page)
{
	return accessed(page);
}

SEC("kprobe")
int BPF_KPROBE(ra_enter__kprobe)
{
	return ra_enter();
}

SEC("kretprobe")
int BPF_KRETPROBE(ra_exit__kprobe)
{
	return ra_exit();
}

SEC("kretprobe")
int BPF_KRETPROBE(alloc__kprobe, __u64 ret)
{
	return allocated(ret);
}

SEC("kprobe")
int BPF_KPROBE(access__kprobe, __u64 page)
{
	return accessed(page);
}
