/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DCSNOOP_H
#define __DCSNOOP_H

#define MAX_FILE_LEN 64         /* bcc's */

struct dc_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	__u32 type;             /* 0 miss, 1 reference */
	char comm[16];
	char filename[MAX_FILE_LEN];
};

#endif
