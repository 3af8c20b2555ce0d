/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Records and map types of the file system latency tools (ext4slower,
 * ext4dist, xfsslower, ..., fsslower, fsdist); Python reads them from BTF. */
#ifndef __FSOPS_H
#define __FSOPS_H

#define FILE_NAME_LEN 33        /* bcc shows up to 32 bytes of the name */

enum fsop {
	FSOP_READ = 0,
	FSOP_WRITE = 1,
	FSOP_OPEN = 2,
	FSOP_FSYNC = 3,
	FSOP_GETATTR = 4,       /* NFS (nfsslower, nfsdist), getattr functions (fsdist) */
	FSOP_COMMIT = 5,        /* NFS COMMIT (nfsslower) */
	FSOP_MAX = 6,
};

struct fsop_event {
	__u64 ts_us;    /* completion, µs since boot */
	__u64 delta_us;
	__s64 size;     /* bytes (reads, writes, commits), else 0 */
	__u64 offset;   /* bytes (reads, writes, commits), else 0 */
	__u32 pid;
	__u32 op;       /* enum fsop */
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	char task[16];
	char file[FILE_NAME_LEN];
};

struct op_key {
	__u32 op;       /* enum fsop */
	__u32 pad;
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id(), else 0 */
};

struct hist {
	__u64 slots[65];
	__u64 sum_ns;   /* exact sum of the latencies in ns (targ_metrics only) */
};

#endif
