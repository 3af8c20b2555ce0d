/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SIGSNOOP_H
#define __SIGSNOOP_H

/* One signal: generated (signal_generate) or sent by kill/tkill/tgkill. */
struct sig_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;              /* sender tgid (current task) */
	__s32 tpid;             /* target (thread) id, as the caller named it */
	__s32 sig;
	__s32 ret;
	char comm[16];
	char tcomm[16];         /* target's comm; empty if unknown */
};

#endif
