/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OPENSNOOP_H
#define __OPENSNOOP_H

#define FNAME_MAX 4096
#define DIR_MAX 4096
#define DIR_DEPTH 48
#define NAME_LEN 256

/* One open/openat/openat2 return.  `buf` holds the path as passed
 * (fname_size bytes, NUL included) and, with full paths on, the
 * components of the directory it is relative to, innermost first, each
 * NUL-terminated (dir_size bytes). Emitted right-sized. */
struct open_event {
	__u64 ts;
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's id, else 0 */
	__s32 pid;
	__s32 tid;
	__u32 uid;
	__s32 ret;
	__s32 flags;
	__u32 mode;
	__u16 fname_size;
	__u16 dir_size;
	char comm[16];
	__u8 buf[FNAME_MAX + DIR_MAX + NAME_LEN]; /* slack: see fill_dir */
};

#endif
