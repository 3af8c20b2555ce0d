/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __PROFILE_H
#define __PROFILE_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* One sampled stack: counted in `counts`.  kernel_ip is the interrupted
 * kernel instruction (0 when the sample hit user space). */
struct key_t {
	__u32 pid;                      /* tgid */
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	__u32 pad;
	__u64 kernel_ip;
	char name[TASK_COMM_LEN];
};

/* --unwind dwarf: one record per sample, the user stack unwound in Python
 * (needs ustack.bpf.h's struct ustack_dump). */
struct ustack_event {
	__u32 pid;                      /* tgid */
	__u32 tid;
	__s32 kernel_stack_id;
	__u32 pad;
	__u64 kernel_ip;
	char name[TASK_COMM_LEN];
	struct ustack_dump ustack;      /* last: the record is cut to the bytes copied */
};

#endif /* __PROFILE_H */
