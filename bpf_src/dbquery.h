/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DBQUERY_H
#define __DBQUERY_H

#define QUERY_LEN 256

struct query_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u32 pid;
	__u32 tid;
	__u64 start_ns;		/* bpf_ktime_get_ns() at query start */
	__u64 delta_ns;
	char query[QUERY_LEN];
};

struct hist {
	__u64 slots[65];
};

#endif
