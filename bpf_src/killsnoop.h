/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __KILLSNOOP_H
#define __KILLSNOOP_H

/* One kill(2) call, as it returns. */
struct kill_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;              /* sender tgid */
	__s32 tpid;
	__s32 sig;
	__s32 ret;
	char comm[16];
};

#endif
