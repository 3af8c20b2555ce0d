/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILESLOWER_H
#define __FILESLOWER_H

#define FS_NAME_LEN 33          /* bcc keeps 32 bytes (DNAME_INLINE_LEN); +1 for the NUL */

struct slow_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 delta_us;
	__u64 count;            /* bytes asked for */
	__u32 tid;
	__u32 op;               /* 0 read, 1 write */
	__u32 name_len;         /* the whole name's length (may exceed name[]) */
	char comm[16];
	char name[FS_NAME_LEN];
};

#endif
