/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CRITICALSTAT_H
#define __CRITICALSTAT_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* One long section: addrs[] are offsets from _stext of the disabling
 * caller and its parent, then of the enabling caller and its parent. */
struct section_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 time;             /* ns */
	__s64 stack_id;
	__u64 id;               /* pid_tgid */
	__u32 cpu;
	__s32 addrs[4];
	char comm[TASK_COMM_LEN];
};

#endif /* __CRITICALSTAT_H */
