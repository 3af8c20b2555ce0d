/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __LLCSTAT_H
#define __LLCSTAT_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

struct llc_key {
	__u32 cpu;
	__u32 pid;
	__u32 tid;              /* = pid unless -t */
	char name[TASK_COMM_LEN];
};

struct llc_counts {
	__u64 ref;
	__u64 miss;
};

#endif /* __LLCSTAT_H */
