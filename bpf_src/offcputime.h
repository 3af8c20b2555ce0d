/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OFFCPUTIME_H
#define __OFFCPUTIME_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Off-CPU time (us) is summed per thread, stack pair and name in `counts`. */
struct key_t {
	__u32 pid;                      /* thread id */
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char name[TASK_COMM_LEN];
};

/* A switch-in whose recorded switch-out lies in the future (bcc's check). */
struct warn_event {
	__u32 pid;
	__u32 tgid;
	__u64 t_start;
	__u64 t_end;
};

#endif /* __OFFCPUTIME_H */
