/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXT4SLOWER_H
#define __EXT4SLOWER_H

#define FILE_NAME_LEN 33        /* bcc shows up to 32 bytes of the name */

struct fsop_event {
	__u64 ts_us;    /* completion, µs since boot */
	__u64 delta_us;
	__s64 size;     /* bytes (reads and writes), else 0 */
	__u64 offset;   /* bytes (reads and writes), else 0 */
	__u32 pid;
	__u32 op;       /* 0 read, 1 write, 2 open, 3 fsync */
	char task[16];
	char file[FILE_NAME_LEN];
};

#endif
