/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DIRTOP_H
#define __DIRTOP_H

struct dir_key {
	__u64 ino;
	__u32 dev;              /* kernel dev_t of the directory's file system */
	__u32 pad;
};

struct dir_val {
	__u64 reads;
	__u64 writes;
	__u64 rbytes;
	__u64 wbytes;
};

#endif
