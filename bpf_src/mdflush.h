/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __MDFLUSH_H
#define __MDFLUSH_H

#define DISK_NAME_LEN 32

struct md_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	char comm[16];
	char disk[DISK_NAME_LEN];
};

#endif
