// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* exitsnoop: one record per process (or, on request, thread) exit, taken at
 * sched_process_exit, where task->exit_code already holds the status.
 * Variants: tp_btf (the exiting task is the argument) and the classic
 * tracepoint (the exiting task is current). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "exitsnoop.h"

const volatile __s32 targ_tgid = 0;        /* 0: every process */
const volatile bool targ_per_thread = false;
const volatile bool targ_failed = false;   /* drop exit status 0 */
const volatile bool targ_metrics = false;  /* the exporter's mode: counts, no events */

EVENTS_RINGBUF(events, 1 << 20, struct exit_event);

/* targ_metrics: exits per key (bits 0-7: the status' low byte, signal and
 * core flag; bit 8: a non-zero exit code) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} exits SEC(".maps");

/* Old RHEL kernels kept start_time as a struct timespec. */
struct task_struct___timespec {
	struct {
		__s64 tv_sec;
		long tv_nsec;
	} start_time;
};

static __always_inline __u64 task_start_ns(struct task_struct *task)
{
	struct task_struct___timespec *old = (void *)task;

	if (bpf_core_field_size(task->start_time) == sizeof(__u64))
		return BPF_CORE_READ(task, start_time);
	return BPF_CORE_READ(old, start_time.tv_sec) * 1000000000ULL +
	       BPF_CORE_READ(old, start_time.tv_nsec);
}

static __always_inline int trace_exit(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid), tid = BPF_CORE_READ(task, pid);
	int code = BPF_CORE_READ(task, exit_code);
	struct exit_event *e;

	if (targ_per_thread) {
		if (targ_tgid && tgid != targ_tgid)
			return 0;
	} else {
		if (tid != tgid)
			return 0;       /* only whole processes (the leader) */
		if (targ_tgid && tgid != targ_tgid)
			return 0;
	}
	if (targ_failed && code == 0)
		return 0;
	if (targ_metrics) {
		__u32 key = (code & 0xFF) | ((code >> 8) ? 0x100 : 0);
		__u64 zero = 0, *n = map_lookup_or_init(&exits, &key, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}

	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->start_time = task_start_ns(task);
	e->exit_time = bpf_ktime_get_ns();
	e->pid = tgid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = code >> 8;
	e->sig_info = code & 0xFF;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit__btf, struct task_struct *task)
{
	return trace_exit(task);
}

SEC("tracepoint/sched/sched_process_exit")
int exit__tp(void *ctx)
{
	return trace_exit(current_task());
}
