// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/task_switch.c: context switches counted per
 * (previous, next) PID pair.  bcc kprobes finish_task_switch (a name the
 * compiler changes: .isra.0); here the sched_switch tracepoint, in two
 * variants: tp_btf (the task pointers, typed by BTF) where the kernel has
 * it, else the classic tracepoint's fields.  The library loads one. */
#include "corebpf.bpf.h"

struct key_t {
	__u32 prev_pid;
	__u32 curr_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct key_t);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 prev, __u32 next)
{
	static const __u64 zero;
	struct key_t key = { .prev_pid = prev, .curr_pid = next };
	__u64 *val = map_lookup_or_init(&stats, &key, &zero);

	if (val)
		__sync_fetch_and_add(val, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(count_sched__btf, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	count(prev->pid, next->pid);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int count_sched__tp(struct trace_event_raw_sched_switch *ctx)
{
	count(ctx->prev_pid, ctx->next_pid);
	return 0;
}
