/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DRSNOOP_H
#define __DRSNOOP_H

/* One direct reclaim, begin to end. */
struct reclaim_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 id;               /* pid_tgid of the reclaiming task */
	__u64 nr_reclaimed;
	__u64 delta;            /* ns */
	__u64 ts;               /* end, us since boot (CLOCK_MONOTONIC) */
	__u32 uid;
	__u8 memcg;             /* a memory cgroup's limit reclaim */
	char comm[16];
};

struct reclaim_start {
	__u64 ts;
	__u8 memcg;
	char comm[16];
};

#endif
