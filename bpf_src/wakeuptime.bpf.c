// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* wakeuptime: time from a thread blocking to its wake-up, summed per waker
 * kernel stack.  sched_switch (in the blocking thread's context) stamps it;
 * sched_waking (in the waker's context, inside try_to_wake_up) takes the
 * waker's kernel stack.  Variants: tp_btf and raw_tp. */
#include "corebpf.bpf.h"
#include "offcpu.bpf.h"
#include "wakeuptime.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int blocked(struct task_struct *prev)
{
	__u32 pid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid);
	__u64 ts;

	if (!pid || !thread_wanted(prev, pid, tgid))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int waking(void *ctx, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	struct key_t key = {};
	__u64 *tsp, delta, zero = 0, *val;

	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;               /* missed or filtered as it blocked */
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &pid);
	delta /= 1000;
	if (!block_time_ok(delta))
		return 0;
	key.w_k_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	BPF_CORE_READ_STR_INTO(&key.target, p, comm);
	bpf_get_current_comm(&key.waker, sizeof(key.waker));
	val = map_lookup_or_init(&counts, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, delta);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch__btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return blocked(prev);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(sched_waking__btf, struct task_struct *p)
{
	return waking(ctx, p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch__raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return blocked(prev);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(sched_waking__raw, struct task_struct *p)
{
	return waking(ctx, p);
}
