/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define ARGS_BUF (TOTAL_MAX_ARGS * ARGSIZE)

/* One exec, as it completes. `args` holds the filename followed by
 * argv[1..]: NUL-terminated strings, `args_size` bytes in all; the record
 * is emitted right-sized (header + args_size). */
struct exec_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's id, else 0 */
	__s32 pid;
	__s32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 cpu;
	__u32 args_count;
	__u32 args_size;
	__u8 truncated;
	char comm[16];
	char pcomm[16];
	__u8 args[ARGS_BUF];
};

#endif
