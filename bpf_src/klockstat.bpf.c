// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* klockstat: kernel mutex statistics per calling stack.
 *
 * Variants, best first:
 * - lock:contention_begin/end (5.19+; tp_btf or classic tracepoint): the
 *   time each contended mutex acquisition waited, from the first
 *   contention_begin of the task on that lock (optimistic spinning, then
 *   sleeping, each begin) to contention_end.  Uncontended acquisitions and
 *   hold times do not pass through any tracepoint.
 * - kprobes on mutex_lock (or mutex_lock_nested) entry and return and on
 *   mutex_unlock (bcc's hooks): every acquisition's wait, and hold times.
 *   Attached by Python. */
#include "corebpf.bpf.h"
#include "stacks.bpf.h"
#include "klockstat.h"

#define LCB_F_MUTEX (1U << 5)   /* include/trace/events/lock.h */

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;

struct wait_key {
	__u64 lock;
	__u32 tid;
	__u32 pad;
};

struct wait_val {
	__u64 ts;
	__s32 stack_id;
	__u32 pad;
};

STACK_TRACE_MAP(stack_traces, 16384);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct wait_key);
	__type(value, struct wait_val);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct wait_key);
	__type(value, struct wait_val);
} held SEC(".maps");

/* kprobe variant: the lock a task is acquiring, between entry and return. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct wait_key);
} acquiring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __s32);
	__type(value, struct lock_stat);
} acq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __s32);
	__type(value, struct lock_stat);
} hld_stats SEC(".maps");

static struct lock_stat zero_stat;

static __always_inline bool allowed(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (targ_tid)
		return (__u32)id == targ_tid;
	if (targ_tgid)
		return id >> 32 == targ_tgid;
	return true;
}

static __always_inline void account(void *stats, __s32 stack_id, __u64 delta)
{
	struct lock_stat *s = map_lookup_or_init(stats, &stack_id, &zero_stat);

	if (!s)
		return;
	__sync_fetch_and_add(&s->count, 1);
	__sync_fetch_and_add(&s->total, delta);
	if (delta > s->max)
		s->max = delta;
}

/* Start a wait (or a hold) of the current task on `lock` unless one is
 * already running (a contended mutex reports spinning, then sleeping). */
static __always_inline void start(void *ctx, void *map, __u64 lock)
{
	struct wait_key k = { .lock = lock, .tid = current_tid() };
	struct wait_val v = {};

	if (bpf_map_lookup_elem(map, &k))
		return;
	v.ts = bpf_ktime_get_ns();
	v.stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	bpf_map_update_elem(map, &k, &v, BPF_NOEXIST);
}

/* End it; returns its stack id (or a negative errno if none was running). */
static __always_inline __s32 finish(void *map, void *stats, __u64 lock)
{
	struct wait_key k = { .lock = lock, .tid = current_tid() };
	struct wait_val *v = bpf_map_lookup_elem(map, &k);
	__u64 now = bpf_ktime_get_ns();
	__s32 id;

	if (!v)
		return -1;
	id = v->stack_id;
	if (now >= v->ts)
		account(stats, id, now - v->ts);
	bpf_map_delete_elem(map, &k);
	return id;
}

static __always_inline int begin(void *ctx, void *lock, unsigned int flags)
{
	if ((flags & LCB_F_MUTEX) && allowed())
		start(ctx, &waits, (__u64)lock);
	return 0;
}

static __always_inline int end(void *lock)
{
	finish(&waits, &acq_stats, (__u64)lock);
	return 0;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(begin__btf, void *lock, unsigned int flags) { return begin(ctx, lock, flags); }
SEC("tp_btf/contention_end")
int BPF_PROG(end__btf, void *lock, int ret) { return end(lock); }

SEC("tracepoint/lock/contention_begin")
int begin__tp(struct trace_event_raw_contention_begin *ctx)
{
	return begin(ctx, ctx->lock_addr, ctx->flags);
}

SEC("tracepoint/lock/contention_end")
int end__tp(struct trace_event_raw_contention_end *ctx)
{
	return end(ctx->lock_addr);
}

SEC("kprobe")
int BPF_KPROBE(lock__kprobe, void *lock)
{
	struct wait_key k = { .lock = (__u64)lock, .tid = current_tid() };

	if (!allowed())
		return 0;
	start(ctx, &waits, k.lock);
	bpf_map_update_elem(&acquiring, &k.tid, &k, BPF_ANY);
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(lockret__kprobe)
{
	__u32 tid = current_tid();
	struct wait_key *k = bpf_map_lookup_elem(&acquiring, &tid);
	struct wait_val v = {};
	struct wait_key hk;
	__s32 id;

	if (!k)
		return 0;
	hk = *k;
	bpf_map_delete_elem(&acquiring, &tid);
	id = finish(&waits, &acq_stats, hk.lock);
	v.ts = bpf_ktime_get_ns();
	v.stack_id = id;
	bpf_map_update_elem(&held, &hk, &v, BPF_ANY);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(unlock__kprobe, void *lock)
{
	finish(&held, &hld_stats, (__u64)lock);
	return 0;
}
