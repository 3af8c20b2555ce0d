/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SYNCSNOOP_H
#define __SYNCSNOOP_H

/* bcc's CALL column numbering. */
enum sync_call { SYNC_NA, SYNC_SYNC, SYNC_FSYNC, SYNC_FDATASYNC, SYNC_MSYNC,
		 SYNC_FILE_RANGE, SYNC_SYNCFS };

struct sync_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts;              /* bpf_ktime_get_ns() at entry */
	__u32 call;
	char comm[16];
};

#endif
