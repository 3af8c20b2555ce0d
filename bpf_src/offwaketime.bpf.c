// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* offwaketime: blocked time summed per (blocked stack, waker stack).
 *
 * sched_switch runs in the context of the thread leaving the CPU (prev):
 * its stacks are where it blocks, stamped with the time.  sched_waking runs
 * in the waker's context inside try_to_wake_up (sched_wakeup may run on the
 * target's CPU instead): the waker's stacks and name are kept for the
 * target.  When the target is switched back in, its time away is added to
 * the pair's entry in `counts`.  Variants: tp_btf and raw_tp (both need the
 * task pointers the classic tracepoints do not give). */
#include "corebpf.bpf.h"
#include "offcpu.bpf.h"
#include "offwaketime.h"

struct blocked {
	__u64 ts;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[TASK_COMM_LEN];
};

struct wokeby {
	char name[TASK_COMM_LEN];
	__s32 k_stack_id;
	__s32 u_stack_id;
	__u32 w_pid;
	__u32 w_tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct blocked);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct wokeby);
} wokeby SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int waking(void *ctx, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid), tgid = BPF_CORE_READ(p, tgid);
	__u64 id = bpf_get_current_pid_tgid();
	struct wokeby w = {};

	if (!thread_wanted(p, pid, tgid))
		return 0;
	bpf_get_current_comm(&w.name, sizeof(w.name));
	current_stack_ids(ctx, &w.u_stack_id, &w.k_stack_id);
	w.w_pid = (__u32)id;
	w.w_tgid = id >> 32;
	bpf_map_update_elem(&wokeby, &pid, &w, BPF_ANY);
	return 0;
}

static __always_inline int switched(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid), k;
	struct blocked b = {}, *bp;
	struct wokeby *w;
	struct key_t key = {};
	__u64 now = bpf_ktime_get_ns(), delta, zero = 0, *val;

	if (thread_wanted(prev, pid, tgid)) {
		b.ts = now;
		current_stack_ids(ctx, &b.user_stack_id, &b.kernel_stack_id);
		bpf_get_current_comm(&b.comm, sizeof(b.comm));
		k = offcpu_key(pid);
		bpf_map_update_elem(&start, &k, &b, BPF_ANY);
	}

	pid = BPF_CORE_READ(next, pid);
	k = offcpu_key(pid);
	bp = bpf_map_lookup_elem(&start, &k);
	if (!bp)
		return 0;               /* missed or filtered as it blocked */
	delta = now > bp->ts ? (now - bp->ts) / 1000 : 0;
	key.t_pid = pid;
	key.t_tgid = BPF_CORE_READ(next, tgid);
	key.t_u_stack_id = bp->user_stack_id;
	key.t_k_stack_id = bp->kernel_stack_id;
	__builtin_memcpy(key.target, bp->comm, sizeof(key.target));
	bpf_map_delete_elem(&start, &k);
	if (!block_time_ok(delta))
		return 0;
	w = bpf_map_lookup_elem(&wokeby, &pid);
	if (w) {
		key.w_k_stack_id = w->k_stack_id;
		key.w_u_stack_id = w->u_stack_id;
		key.w_pid = w->w_pid;
		key.w_tgid = w->w_tgid;
		__builtin_memcpy(key.waker, w->name, sizeof(key.waker));
		bpf_map_delete_elem(&wokeby, &pid);
	}
	val = map_lookup_or_init(&counts, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, delta);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch__btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(ctx, prev, next);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(sched_waking__btf, struct task_struct *p)
{
	return waking(ctx, p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch__raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(ctx, prev, next);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(sched_waking__raw, struct task_struct *p)
{
	return waking(ctx, p);
}
