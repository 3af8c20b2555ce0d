// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* memleak: allocations not freed yet, with the stack that made them.
 *
 * User mode: uprobes on the allocator's entry (size) and uretprobes on its
 * return (address), a uprobe on free/munmap; the process filter is the
 * kernel's (the uprobes are attached for one PID).  Kernel mode: the kmem
 * (or percpu) tracepoints, which carry size and address at once.  The
 * allocation's stack is taken when it completes: in a uretprobe that is the
 * caller's. */
#include "corebpf.bpf.h"
#include "stacks.bpf.h"
#include "ustack.bpf.h"
#include "memleak.h"

const volatile __u64 targ_min_size = 0;
const volatile __u64 targ_max_size = (__u64)-1;
const volatile __u64 targ_sample_rate = 1;
const volatile __u64 targ_page_size = 4096;
const volatile bool targ_trace = false;		/* -t */
const volatile bool targ_user_stacks = true;	/* false in kernel mode */
const volatile bool targ_wa_missing_free = false;
const volatile bool targ_dwarf = false;		/* --unwind dwarf */
/* kernel mode: where the BPF memory allocator refills its caches (alloc_bulk
 * and the __alloc it may call: [lo, hi) of each, 0 where there is none) */
const volatile __u64 targ_refill_lo1 = 0, targ_refill_hi1 = 0;
const volatile __u64 targ_refill_lo2 = 0, targ_refill_hi2 = 0;

/* allocator kinds: a nested call of another allocator (malloc -> mmap)
 * keeps its own entry size */
enum { KERNEL = 0, MALLOC, CALLOC, REALLOC, MMAP, POSIX_MEMALIGN, VALLOC, MEMALIGN,
       PVALLOC, ALIGNED_ALLOC };

STACK_TRACE_MAP(stack_traces, 10240);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* kind << 32 | tid */
	__type(value, __u64);		/* requested size */
} sizes SEC(".maps");

/* run-time allocated: a million preallocated entries would cost ~80 MB of
 * kernel memory before the first allocation is seen */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);		/* address */
	__type(value, struct alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* stack id */
	__type(value, struct combined_alloc_info);
} combined_allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, __u64);		/* posix_memalign's memptr */
} memptrs SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct alloc_trace);

/* --unwind dwarf: each allocation's user stack goes to Python, named by
 * (cpu, per-CPU sequence number), which alloc_info carries in stack_id and
 * seq; Python sums the outstanding allocations per unwound stack. */
struct alloc_dump {
	__u32 cpu;
	__u32 seq;
	__u32 pid;
	__u32 pad;
	struct ustack_dump ustack;	/* last: the record is cut to the bytes copied */
};
EVENTS_RINGBUF(ustacks, 1 << 22, struct alloc_dump);
USTACK_SCRATCH(ustack_scratch_map, struct alloc_dump);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} dump_seqs SEC(".maps");

/* Send the current user stack; fill info's (stack_id, seq) with its name.
 * 0 if it went out. */
static __always_inline int dump_stack(struct alloc_info *info)
{
	struct alloc_dump *d = ustack_scratch(&ustack_scratch_map);
	__u32 zero = 0, *seq = bpf_map_lookup_elem(&dump_seqs, &zero), n;

	if (!d || !seq)
		return -1;
	d->cpu = bpf_get_smp_processor_id();
	d->seq = ++*seq;
	d->pid = current_tgid();
	n = ustack_capture(&d->ustack);
	if (n > USTACK_MAX)
		n = USTACK_MAX;
	if (RINGBUF_OUTPUT(ustacks, d, offsetof(struct alloc_dump, ustack.data) + n))
		return -1;
	info->stack_id = d->cpu & 0x7fffffff;
	info->seq = d->seq;
	return 0;
}

static __always_inline void trace(__u32 kind, __u64 size, __u64 address)
{
	struct alloc_trace *e;

	if (!targ_trace)
		return;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->size = size;
	e->address = address;
	e->pid = current_tgid();
	e->cpu = bpf_get_smp_processor_id();
	e->kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void stats_add(__u64 stack_id, __u64 size)
{
	struct combined_alloc_info zero = {}, *c;

	c = map_lookup_or_init(&combined_allocs, &stack_id, &zero);
	if (!c)
		return;
	__sync_fetch_and_add(&c->total_size, size);
	__sync_fetch_and_add(&c->number_of_allocs, 1);
}

static __always_inline void stats_del(__u64 stack_id, __u64 size)
{
	struct combined_alloc_info *c = bpf_map_lookup_elem(&combined_allocs, &stack_id);

	if (!c)
		return;
	if (c->number_of_allocs > 1) {
		__sync_fetch_and_sub(&c->total_size, size);
		__sync_fetch_and_sub(&c->number_of_allocs, 1);
	} else {
		bpf_map_delete_elem(&combined_allocs, &stack_id);
	}
}

static __always_inline __u64 size_key(__u32 kind)
{
	return (__u64)kind << 32 | current_tid();
}

static __always_inline int alloc_enter(__u64 size, __u32 kind)
{
	if (size < targ_min_size || size > targ_max_size)
		return 0;
	if (targ_sample_rate > 1 && bpf_ktime_get_ns() % targ_sample_rate != 0)
		return 0;
	__u64 key = size_key(kind);

	bpf_map_update_elem(&sizes, &key, &size, BPF_ANY);
	trace(TRACE_ALLOC_ENTER, size, 0);
	return 0;
}

static __always_inline int alloc_exit(void *ctx, __u64 address, __u32 kind)
{
	__u64 key = size_key(kind), *size = bpf_map_lookup_elem(&sizes, &key);
	struct alloc_info info = {};

	if (!size)
		return 0;		/* entry missed, filtered or sampled out */
	info.size = *size;
	bpf_map_delete_elem(&sizes, &key);
	if (address) {
		info.timestamp_ns = bpf_ktime_get_ns();
		if (targ_dwarf) {
			/* the dump goes first: Python has it before it sees the
			 * allocation; no combined stats (Python sums allocs) */
			if (dump_stack(&info))
				info.stack_id = -1;
			bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
			goto out;
		}
		info.stack_id = bpf_get_stackid(ctx, &stack_traces,
						targ_user_stacks ? BPF_F_USER_STACK : 0);
		bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
		stats_add(info.stack_id, info.size);
	}
out:
	trace(TRACE_ALLOC_EXIT, info.size, address);
	return 0;
}

static __always_inline int free_enter(__u64 address)
{
	struct alloc_info *info = bpf_map_lookup_elem(&allocs, &address);
	__u64 size;

	if (!info)
		return 0;
	size = info->size;
	if (!targ_dwarf)
		stats_del(info->stack_id, size);
	bpf_map_delete_elem(&allocs, &address);
	trace(TRACE_FREE, size, address);
	return 0;
}

/* -- user mode: libc's allocator (or -O's) ---------------------------------- */

#define ALLOC_EXIT(fn, KIND)                                                   \
	SEC("uretprobe")                                                       \
	int BPF_KRETPROBE(fn##_exit, void *ret)                                \
	{                                                                      \
		return alloc_exit(ctx, (__u64)ret, KIND);                      \
	}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size)
{
	return alloc_enter(size, MALLOC);
}
ALLOC_EXIT(malloc, MALLOC)

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size)
{
	return alloc_enter(nmemb * size, CALLOC);
}
ALLOC_EXIT(calloc, CALLOC)

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	free_enter((__u64)ptr);
	return alloc_enter(size, REALLOC);
}
ALLOC_EXIT(realloc, REALLOC)

SEC("uprobe")
int BPF_KPROBE(mmap_enter, void *addr, size_t length)
{
	return alloc_enter(length, MMAP);
}
ALLOC_EXIT(mmap, MMAP)

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
	__u32 tid = current_tid();
	__u64 p = (__u64)memptr;

	bpf_map_update_elem(&memptrs, &tid, &p, BPF_ANY);
	return alloc_enter(size, POSIX_MEMALIGN);
}

SEC("uretprobe")
int BPF_KRETPROBE(posix_memalign_exit)
{
	__u32 tid = current_tid();
	__u64 *memptr = bpf_map_lookup_elem(&memptrs, &tid);
	void *addr;

	if (!memptr)
		return 0;
	bpf_map_delete_elem(&memptrs, &tid);
	if (bpf_probe_read_user(&addr, sizeof(addr), (void *)*memptr))
		return 0;
	return alloc_exit(ctx, (__u64)addr, POSIX_MEMALIGN);
}

SEC("uprobe")
int BPF_KPROBE(valloc_enter, size_t size)
{
	return alloc_enter(size, VALLOC);
}
ALLOC_EXIT(valloc, VALLOC)

SEC("uprobe")
int BPF_KPROBE(memalign_enter, size_t alignment, size_t size)
{
	return alloc_enter(size, MEMALIGN);
}
ALLOC_EXIT(memalign, MEMALIGN)

SEC("uprobe")
int BPF_KPROBE(pvalloc_enter, size_t size)
{
	return alloc_enter(size, PVALLOC);
}
ALLOC_EXIT(pvalloc, PVALLOC)

SEC("uprobe")
int BPF_KPROBE(aligned_alloc_enter, size_t alignment, size_t size)
{
	return alloc_enter(size, ALIGNED_ALLOC);
}
ALLOC_EXIT(aligned_alloc, ALIGNED_ALLOC)

SEC("uprobe")
int BPF_KPROBE(free_enter_probe, void *ptr)
{
	return free_enter((__u64)ptr);
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, void *addr)
{
	return free_enter((__u64)addr);
}

/* -- kernel mode: kmem and percpu tracepoints ---------------------------------
 * Two variants: raw tracepoints (HOOK__raw: ~1 ms each to detach) and the
 * classic ones (HOOK__tp, the fallback and COREBPF_PROBE=tracepoint: ~40 ms
 * each, one at a time in the kernel, which made Ctrl-C -> exit ~270 ms).
 * The page hooks stay classic in both: their raw arguments are a struct
 * page, whose pfn (the key bcc and the classic event use) depends on the
 * architecture's memory model.
 *
 * Classic formats: the kmalloc/kmem_cache_alloc events had one class,
 * kmem_alloc (and kmem_alloc_node for the _node events) until 6.1 (commit
 * 11e9734bcb6a) and 6.2 (2c1d697fb8ba); kfree/kmem_cache_free shared
 * kmem_free until 6.2.  The fields used keep their names throughout: CO-RE
 * finds them.
 *
 * Raw arguments (the btf_trace_* prototypes): the pointer is argument 1 of
 * every slab event; kmalloc (and before 6.1 kmem_cache_alloc and the _node
 * events) pass (call_site, ptr, bytes_req, bytes_alloc, ...); since 6.1
 * kmem_cache_alloc passes (call_site, ptr, struct kmem_cache *s, ...), its
 * size being s->size -- the kernels whose classic event has its own
 * trace_event_raw_kmem_cache_alloc.  percpu_alloc_percpu gained a leading
 * call_site (and its classic event a call_site field) in 5.19.
 *
 * Recursion: a raw tracepoint program runs even while another BPF program
 * runs on the CPU (only classic ones are kept out, by bpf_prog_active), so
 * without a guard it sees the allocations memleak's own map updates set off
 * (the BPF memory allocator refilling its caches from irq_work, hundreds of
 * thousands of bogus outstanding allocations in seconds).  Every kernel-mode
 * hook, raw or classic, takes a per-CPU flag and ignores what happens on its
 * CPU while the flag is taken.  The refill may also run after the program
 * (its irq_work, when the program ran with interrupts off): each refill it
 * counted then was an update of `allocs`, which took from the allocator's
 * cache and set off the next refill, until `allocs` was full (a million
 * entries in a second).  So slab allocations whose call site is the
 * refill's are not counted either (targ_refill_*: Python finds the
 * functions in kallsyms). */

struct trace_event_raw_kmem_alloc___old {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_alloc_node___old {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmalloc___new {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_alloc___new {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_free___old {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kfree___new {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___new {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_percpu_alloc_percpu___new {
	unsigned long call_site;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} hook_busy SEC(".maps");

/* Take this CPU's flag; NULL if a kernel-mode hook already holds it (this
 * event was set off by memleak itself, or interrupted it). */
static __always_inline __u32 *hook_enter(void)
{
	__u32 zero = 0, *busy = bpf_map_lookup_elem(&hook_busy, &zero);

	if (!busy || *busy)
		return NULL;
	*busy = 1;
	return busy;
}

static __always_inline bool refill_site(__u64 call_site)
{
	return (call_site >= targ_refill_lo1 && call_site < targ_refill_hi1) ||
	       (call_site >= targ_refill_lo2 && call_site < targ_refill_hi2);
}

/* call_site: the slab events' (0: none) */
static __always_inline int kernel_alloc(void *ctx, __u64 ptr, __u64 size, __u64 call_site)
{
	__u32 *busy;

	if (refill_site(call_site))
		return 0;
	busy = hook_enter();
	if (!busy)
		return 0;
	if (targ_wa_missing_free)
		free_enter(ptr);
	alloc_enter(size, KERNEL);
	alloc_exit(ctx, ptr, KERNEL);
	*busy = 0;
	return 0;
}

static __always_inline int kernel_free(__u64 ptr)
{
	__u32 *busy = hook_enter();

	if (!busy)
		return 0;
	free_enter(ptr);
	*busy = 0;
	return 0;
}

/* raw_tp: (call_site, ptr, bytes_req, bytes_alloc, ...) */
SEC("raw_tp/kmalloc")
int kmalloc__raw(void *ctx)
{
	return kernel_alloc(ctx, TP_ARG(ctx, 1), TP_ARG(ctx, 3), TP_ARG(ctx, 0));
}

SEC("raw_tp/kmem_cache_alloc")
int kmem_cache_alloc__raw(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_cache_alloc___new)) {
		struct kmem_cache *s = (void *)TP_ARG(ctx, 2);

		return kernel_alloc(ctx, TP_ARG(ctx, 1), BPF_CORE_READ(s, size), TP_ARG(ctx, 0));
	}
	return kernel_alloc(ctx, TP_ARG(ctx, 1), TP_ARG(ctx, 3), TP_ARG(ctx, 0));
}

/* kernels before 6.1 only: Python turns these off where the events are gone */
SEC("raw_tp/kmalloc_node")
int kmalloc_node__raw(void *ctx)
{
	return kernel_alloc(ctx, TP_ARG(ctx, 1), TP_ARG(ctx, 3), TP_ARG(ctx, 0));
}

SEC("raw_tp/kmem_cache_alloc_node")
int kmem_cache_alloc_node__raw(void *ctx)
{
	return kernel_alloc(ctx, TP_ARG(ctx, 1), TP_ARG(ctx, 3), TP_ARG(ctx, 0));
}

SEC("raw_tp/kfree")
int kfree__raw(void *ctx)
{
	return kernel_free(TP_ARG(ctx, 1));
}

SEC("raw_tp/kmem_cache_free")
int kmem_cache_free__raw(void *ctx)
{
	return kernel_free(TP_ARG(ctx, 1));
}

/* (call_site,) reserved, is_atomic, size, align, base_addr, off, ptr, ... */
SEC("raw_tp/percpu_alloc_percpu")
int percpu_alloc_percpu__raw(void *ctx)
{
	if (bpf_core_field_exists(struct trace_event_raw_percpu_alloc_percpu___new, call_site))
		return kernel_alloc(ctx, TP_ARG(ctx, 7), TP_ARG(ctx, 3), 0);
	return kernel_alloc(ctx, TP_ARG(ctx, 6), TP_ARG(ctx, 2), 0);
}

/* base_addr, off, ptr */
SEC("raw_tp/percpu_free_percpu")
int percpu_free_percpu__raw(void *ctx)
{
	return kernel_free(TP_ARG(ctx, 2));
}

SEC("tracepoint/kmem/kmalloc")
int kmalloc__tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_alloc___old)) {
		struct trace_event_raw_kmem_alloc___old *a = ctx;

		return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
	} else {
		struct trace_event_raw_kmalloc___new *a = ctx;

		return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
	}
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc__tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_alloc___old)) {
		struct trace_event_raw_kmem_alloc___old *a = ctx;

		return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
	} else {
		struct trace_event_raw_kmem_cache_alloc___new *a = ctx;

		return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
	}
}

SEC("tracepoint/kmem/kmalloc_node")
int kmalloc_node__tp(void *ctx)
{
	struct trace_event_raw_kmem_alloc_node___old *a = ctx;

	if (!bpf_core_type_exists(struct trace_event_raw_kmem_alloc_node___old))
		return 0;
	return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
}

SEC("tracepoint/kmem/kmem_cache_alloc_node")
int kmem_cache_alloc_node__tp(void *ctx)
{
	struct trace_event_raw_kmem_alloc_node___old *a = ctx;

	if (!bpf_core_type_exists(struct trace_event_raw_kmem_alloc_node___old))
		return 0;
	return kernel_alloc(ctx, (__u64)BPF_CORE_READ(a, ptr), BPF_CORE_READ(a, bytes_alloc),
				    BPF_CORE_READ(a, call_site));
}

SEC("tracepoint/kmem/kfree")
int kfree__tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_free___old)) {
		struct trace_event_raw_kmem_free___old *a = ctx;

		return kernel_free((__u64)BPF_CORE_READ(a, ptr));
	} else {
		struct trace_event_raw_kfree___new *a = ctx;

		return kernel_free((__u64)BPF_CORE_READ(a, ptr));
	}
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free__tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_free___old)) {
		struct trace_event_raw_kmem_free___old *a = ctx;

		return kernel_free((__u64)BPF_CORE_READ(a, ptr));
	} else {
		struct trace_event_raw_kmem_cache_free___new *a = ctx;

		return kernel_free((__u64)BPF_CORE_READ(a, ptr));
	}
}

SEC("tracepoint/percpu/percpu_alloc_percpu")
int percpu_alloc_percpu__tp(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
	return kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, size), 0);
}

SEC("tracepoint/percpu/percpu_free_percpu")
int percpu_free_percpu__tp(struct trace_event_raw_percpu_free_percpu *ctx)
{
	return kernel_free((__u64)BPF_CORE_READ(ctx, ptr));
}

/* both variants (no suffix): keyed by pfn */
SEC("tracepoint/kmem/mm_page_alloc")
int mm_page_alloc(struct trace_event_raw_mm_page_alloc *ctx)
{
	return kernel_alloc(ctx, BPF_CORE_READ(ctx, pfn),
			    targ_page_size << BPF_CORE_READ(ctx, order), 0);
}

SEC("tracepoint/kmem/mm_page_free")
int mm_page_free(struct trace_event_raw_mm_page_free *ctx)
{
	return kernel_free(BPF_CORE_READ(ctx, pfn));
}
