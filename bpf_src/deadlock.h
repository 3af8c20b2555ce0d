/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DEADLOCK_H
#define __DEADLOCK_H

/* an edge mutex1 => mutex2: a thread locked mutex2 while holding mutex1 */
struct edge_key {
	__u64 mutex1;
	__u64 mutex2;
};

/* stacks are taken at the lock function's entry, where the frame-pointer
 * walk skips the immediate caller: its return address (at the stack
 * pointer) is kept beside the stack id */
struct edge_info {
	__u64 mutex1_stack_id;
	__u64 mutex2_stack_id;
	__u64 mutex1_caller;
	__u64 mutex2_caller;
	__u32 thread_pid;
	char comm[16];
};

/* where a thread of the traced process was created: pthread_create's
 * stack when the thread came from it, else the clone's */
struct thread_created {
	__u64 stack_id;
	__u64 caller;
	__u32 parent_pid;
	char comm[16];
};

#endif
