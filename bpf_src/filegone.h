/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILEGONE_H
#define __FILEGONE_H

#define GONE_PATH_MAX 4096

struct gone_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	__u32 action;           /* 'D' delete, 'R' rename */
	char comm[16];
	char name[GONE_PATH_MAX];       /* a path (tp variant) or a dentry name */
	char name2[GONE_PATH_MAX];      /* renames: the new one */
};

#endif
