/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __GETHOSTLATENCY_H
#define __GETHOSTLATENCY_H

#define HOST_LEN 80

struct host_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	__u32 tid;
	__u64 delta_ns;
	char comm[16];
	char host[HOST_LEN];
};

#endif
