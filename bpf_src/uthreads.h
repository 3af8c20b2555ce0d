/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __UTHREADS_H
#define __UTHREADS_H

struct thread_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 runtime_id;	/* pthread: start routine address; java: thread id */
	__u64 native_id;	/* the new thread's TID */
	char type[8];		/* "pthread", "start", "stop" */
	char name[80];		/* java: thread name */
};

#endif
