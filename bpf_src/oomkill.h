/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OOMKILL_H
#define __OOMKILL_H

/* One OOM kill: the task whose allocation triggered it and the victim. */
struct oom_event {
	__u64 cgroup;   /* --containers: the triggering task's (cgroupid.bpf.h) */
	__u32 fpid;             /* triggering tgid */
	__u32 tpid;             /* victim tgid (pid with the classic tracepoint) */
	__u64 pages;            /* the OOM domain's size; 0: the whole machine */
	char fcomm[16];
	char tcomm[16];
};

#endif
