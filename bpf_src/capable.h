/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CAPABLE_H
#define __CAPABLE_H

/* One capability check.  audit and insetid are 0/1, or -1 where the probe
 * cannot know (the cap_capable tracepoint does not carry the options). */
struct cap_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__s32 cap;
	__s32 audit;
	__s32 insetid;
	__s32 ret;              /* 0 or -EPERM; tracepoint variants only */
	__s32 kernel_stack_id;  /* -K / -U: ids in the stacks map (< 0: none) */
	__s32 user_stack_id;
	char comm[16];
};

/* --unique: one line per (process, capability[, stacks]) */
struct cap_key {
	__u32 tgid;
	__s32 cap;
	__s32 kernel_stack_id;
	__s32 user_stack_id;
};

#endif
