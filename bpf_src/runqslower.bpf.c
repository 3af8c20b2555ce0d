// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* runqslower: one record per run queue wait longer than targ_min_us.
 * Variants: tp_btf and raw_tp on sched_wakeup, sched_wakeup_new and
 * sched_switch. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "sched.bpf.h"
#include "runqslower.h"

const volatile __u64 targ_min_us = 0;
const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct rq_event);

static __always_inline int enqueue(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 ts;

	if (!pid)
		return 0;
	if (targ_tgid && BPF_CORE_READ(p, tgid) != targ_tgid)
		return 0;
	if (targ_tid && pid != targ_tid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_switch(struct task_struct *prev, struct task_struct *next)
{
	struct rq_event *e;
	__u64 *tsp, delta_us;
	__u32 pid;

	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &pid);
	if ((__s64)delta_us < 0 || (targ_min_us && delta_us <= targ_min_us))
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_task_cgroup_id(next);
	e->delta_us = delta_us;
	e->pid = pid;
	e->prev_pid = BPF_CORE_READ(prev, pid);
	BPF_CORE_READ_STR_INTO(&e->task, next, comm);
	BPF_CORE_READ_STR_INTO(&e->prev_task, prev, comm);
	bpf_ringbuf_submit(e, 0);
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
