/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SOFTIRQSLOWER_H
#define __SOFTIRQSLOWER_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

enum softirq_stage {
	STAGE_RAISE = 0,        /* not reported (bcc's numbering) */
	STAGE_ENTRY = 1,        /* raise -> handler start: "irq(hard) to softirq" */
	STAGE_EXIT = 2,         /* handler start -> end: "softirq runtime" */
};

struct softirq_event {
	__u64 delta_ns;
	__u32 stage;
	__u32 vec;
	__u32 cpu;
	__u32 pad;
	char comm[TASK_COMM_LEN];   /* the task the softirq interrupted */
};

#endif /* __SOFTIRQSLOWER_H */
