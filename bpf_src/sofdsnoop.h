/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SOFDSNOOP_H
#define __SOFDSNOOP_H

#define MAX_FD 10

struct fd_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 id;       /* pid << 32 | tid */
	__u64 ts_us;
	__s32 action;   /* 0 send, 1 receive */
	__s32 sock_fd;
	__s32 fd_cnt;
	__s32 fd[MAX_FD];
	char comm[16];
};

#endif
