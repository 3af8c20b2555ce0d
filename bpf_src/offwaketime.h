/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OFFWAKETIME_H
#define __OFFWAKETIME_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Blocked time (us) is summed per (target stack, waker stack) pair. */
struct key_t {
	char waker[TASK_COMM_LEN];
	char target[TASK_COMM_LEN];
	__s32 w_k_stack_id;
	__s32 w_u_stack_id;
	__s32 t_k_stack_id;
	__s32 t_u_stack_id;
	__u32 t_pid;
	__u32 t_tgid;
	__u32 w_pid;
	__u32 w_tgid;
};

#endif /* __OFFWAKETIME_H */
