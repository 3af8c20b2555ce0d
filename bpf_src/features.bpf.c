// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Feature probes: corebpf.features loads one program at a time to learn
 * whether this kernel accepts that program type (only a load can tell:
 * some kernels refuse fentry with EPERM and an empty verifier log). */
#include "corebpf.bpf.h"

SEC("fentry/vfs_read")
int BPF_PROG(probe_fentry)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(probe_tp_btf)
{
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(probe_raw_tp)
{
	return 0;
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(probe_kprobe)
{
	return 0;
}
