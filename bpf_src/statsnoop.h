/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __STATSNOOP_H
#define __STATSNOOP_H

#define STAT_NAME_MAX 255

/* bcc's syscall numbering for the SYSCALL column (index into its names). */
enum stat_call {
	SC_UNKNOWN, SC_STAT, SC_STATX, SC_STATFS, SC_NEWSTAT, SC_NEWLSTAT,
	SC_FSTATAT64, SC_NEWFSTATAT,
};

/* One stat-family syscall return. */
struct stat_event {
	__u64 ts;
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's id, else 0 */
	__u32 pid;
	__s32 ret;
	__u32 call;
	char comm[16];
	char fname[STAT_NAME_MAX];
};

#endif
