/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXITSNOOP_H
#define __EXITSNOOP_H

/* One task exit.  exit_code is the exit status (task->exit_code >> 8),
 * sig_info the low byte (signal number in bits 0-6, core dump in bit 7). */
struct exit_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 start_time;       /* CLOCK_MONOTONIC ns */
	__u64 exit_time;        /* CLOCK_MONOTONIC ns */
	__u32 pid;              /* tgid */
	__u32 tid;
	__u32 ppid;
	__s32 exit_code;
	__u32 sig_info;
	char comm[16];
};

#endif
