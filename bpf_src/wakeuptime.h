/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __WAKEUPTIME_H
#define __WAKEUPTIME_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Time blocked (us) until woken, summed per waker kernel stack and names. */
struct key_t {
	__s32 w_k_stack_id;
	char waker[TASK_COMM_LEN];
	char target[TASK_COMM_LEN];
};

#endif /* __WAKEUPTIME_H */
