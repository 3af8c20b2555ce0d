/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the off-CPU stack tools share (offcputime, offwaketime, wakeuptime):
 * bcc's thread filters (-p/-t id sets, -u/-k, --state) and the stack ids of
 * the current thread.  The including object declares the rodata switches
 * and the `tgids`/`tids` sets and `stack_traces` map these use. */
#ifndef __OFFCPU_BPF_H
#define __OFFCPU_BPF_H

#include "stacks.bpf.h"
#include "sched.bpf.h"

#define PF_KTHREAD 0x00200000

const volatile bool targ_filter_tgid = false;   /* -p: tgids in `tgids` */
const volatile bool targ_filter_tid = false;    /* -t: tids in `tids` */
const volatile bool targ_user_threads_only = false;
const volatile bool targ_kernel_threads_only = false;
const volatile bool targ_user_stacks = true;    /* false with -K */
const volatile bool targ_kernel_stacks = true;  /* false with -U */
const volatile __u64 targ_min_us = 1;
const volatile __u64 targ_max_us = (__u64)-1;
const volatile bool targ_filter_state = false;  /* --state */
const volatile __u32 targ_state = 0;

STACK_TRACE_MAP(stack_traces, 16384);
ID_SET_MAP(tgids, 1024);
ID_SET_MAP(tids, 1024);

/* Idle threads are all pid 0: key them by CPU. */
static __always_inline __u32 offcpu_key(__u32 pid)
{
	return pid ? pid : 0x80000000u | bpf_get_smp_processor_id();
}

/* bcc's THREAD_FILTER && STATE_FILTER on task t. */
static __always_inline bool thread_wanted(struct task_struct *t, __u32 pid, __u32 tgid)
{
	__u32 flags = BPF_CORE_READ(t, flags);
	long state;

	if (targ_filter_tgid && !id_in_set(&tgids, tgid))
		return false;
	if (targ_filter_tid && !id_in_set(&tids, pid))
		return false;
	if (targ_user_threads_only && (flags & PF_KTHREAD))
		return false;
	if (targ_kernel_threads_only && !(flags & PF_KTHREAD))
		return false;
	if (targ_filter_state) {
		state = task_state(t);
		if (targ_state == 0 ? state != 0 : !(state & targ_state))
			return false;
	}
	return true;
}

static __always_inline bool block_time_ok(__u64 us)
{
	return us >= targ_min_us && us <= targ_max_us;
}

/* Stack ids of the current thread (-1 for a side not shown). */
static __always_inline void current_stack_ids(void *ctx, __s32 *user, __s32 *kernel)
{
	*user = targ_user_stacks ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	*kernel = targ_kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
}

#endif /* __OFFCPU_BPF_H */
