// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* pidpersec: new processes (and threads: every fork/clone) counted in the
 * kernel; Python prints the increase every second.  sched_process_fork
 * (tp_btf -> raw_tp -> classic tracepoint), kprobe sched_fork as bcc. */
#include "corebpf.bpf.h"

__u64 forks = 0;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork__btf)
{
	__sync_fetch_and_add(&forks, 1);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int fork__raw(void *ctx)
{
	__sync_fetch_and_add(&forks, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int fork__tp(void *ctx)
{
	__sync_fetch_and_add(&forks, 1);
	return 0;
}

SEC("kprobe/sched_fork")
int fork__kprobe(void *ctx)
{
	__sync_fetch_and_add(&forks, 1);
	return 0;
}
