/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __THREADSNOOP_H
#define __THREADSNOOP_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* One pthread_create() call: the caller and the new thread's start routine. */
struct thread_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts;
	__u64 start;            /* start_routine, a user address of process pid */
	__u32 pid;              /* the caller's process id */
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

#endif /* __THREADSNOOP_H */
