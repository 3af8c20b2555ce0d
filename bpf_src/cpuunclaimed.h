/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CPUUNCLAIMED_H
#define __CPUUNCLAIMED_H

#define CU_MAX_CPUS 256

/* The last sample of one CPU. */
struct cpu_sample {
	__u64 ts;
	__u32 len;              /* entities on the interrupted task's CFS run queue */
	__u32 pad;
};

/* One sample group: at each sample of the leader CPU, every CPU's latest
 * sample (ts 0: none within the last 1.5 periods). */
struct group {
	__u64 ts;
	__u32 ncpu;
	__u32 pad;
	struct cpu_sample cpus[CU_MAX_CPUS];
};

/* Without -j: the groups summed in the kernel (bcc's statistics). */
struct totals {
	__u64 positive;         /* min(idle CPUs, queued threads) per group */
	__u64 running;          /* CPUs running something */
	__u64 idle;             /* CPUs idle */
	__u64 groups;
};

#endif /* __CPUUNCLAIMED_H */
