/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SHMSNOOP_H
#define __SHMSNOOP_H

enum shm_sys { SYS_SHMGET, SYS_SHMAT, SYS_SHMDT, SYS_SHMCTL };

struct shm_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 id;       /* pid << 32 | tid */
	__u64 ts_us;
	__u64 sys;      /* enum shm_sys */
	__u64 key;
	__u64 size;
	__u64 shmflg;
	__u64 shmid;
	__u64 cmd;
	__u64 buf;
	__u64 shmaddr;
	__u64 ret;
	char comm[16];
};

#endif
