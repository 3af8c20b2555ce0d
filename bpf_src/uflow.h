/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __UFLOW_H
#define __UFLOW_H

struct flow_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 id;		/* pid_tgid */
	__u32 depth;
	__u32 cpu;
	__u8 entry;		/* 1: call, 0: return */
	char clazz[80];
	char method[80];
};

#endif
