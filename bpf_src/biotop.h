/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOTOP_H
#define __BIOTOP_H

/* One row of biotop: I/O of one process, one direction, one disk. */
struct info_key {
	__u32 pid;
	__u32 rwflag;
	__u32 major;
	__u32 minor;
	char comm[16];
};

struct info_val {
	__u64 bytes;
	__u64 us;
	__u64 io;
};

#endif
