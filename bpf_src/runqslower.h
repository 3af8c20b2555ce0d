/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __RUNQSLOWER_H
#define __RUNQSLOWER_H

struct rq_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 delta_us;
	__u32 pid;              /* thread that waited */
	__u32 prev_pid;         /* thread switched out for it */
	char task[16];
	char prev_task[16];
};

#endif
