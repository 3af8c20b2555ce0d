/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILETOP_H
#define __FILETOP_H

#define FT_NAME_LEN 33         /* bcc keeps 32 bytes (DNAME_INLINE_LEN); +1 for the NUL */

struct file_key {
	__u64 ino;
	__u32 dev;
	__u32 rdev;
	__u32 tid;
	__u32 name_len;        /* the whole name's length (may exceed name[]) */
	char comm[16];
	char name[FT_NAME_LEN];
	char type;             /* 'R' regular, 'S' socket, 'O' other */
	char pad[6];
};

struct file_val {
	__u64 reads;
	__u64 writes;
	__u64 rbytes;
	__u64 wbytes;
};

#endif
