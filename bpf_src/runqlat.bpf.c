// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* runqlat: run queue latency (wakeup, or preemption while runnable, until
 * the task runs) as histograms.  Variants: tp_btf and raw_tp on sched_wakeup,
 * sched_wakeup_new and sched_switch. */
#include "corebpf.bpf.h"
#include "sched.bpf.h"
#include "cgroupid.bpf.h"
#include "runqlat.h"

const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_per_pidns = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_tgid = 0;
const volatile bool targ_metrics = false;   /* the exporter's mode: exact ns sums */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);     /* pid, tid, pidns inode, cgroup id (--containers) or 0 */
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline int enqueue(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 ts;

	if (!pid)
		return 0;       /* the idle task */
	if (targ_tgid && BPF_CORE_READ(p, tgid) != targ_tgid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_switch(struct task_struct *prev, struct task_struct *next)
{
	__u32 pid;
	__u64 *tsp, delta, ns, key = 0;
	struct hist *h;

	/* preempted while runnable: it waits in the queue from now on */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &pid);
	if ((__s64)delta < 0)
		return 0;
	ns = delta;
	delta = targ_ms ? delta / 1000000 : delta / 1000;
	if (targ_per_process)
		key = BPF_CORE_READ(next, tgid);
	else if (targ_per_thread)
		key = pid;
	else if (targ_per_pidns)
		key = task_pidns(next);
	else if (targ_containers)
		key = task_cgroup_id_of(next);
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (!h)
		return 0;
	HIST_INC(h, hist_slot(delta));
	if (targ_metrics)
		__sync_fetch_and_add(&h->sum_ns, ns);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(wakeup__btf, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(wakeup_new__btf, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch__btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(prev, next);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(wakeup__raw, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(wakeup_new__raw, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch__raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(prev, next);
}
