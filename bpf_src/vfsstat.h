/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __VFSSTAT_H
#define __VFSSTAT_H

/* Column order of bcc's vfsstat. */
enum vfs_stat { S_READ, S_WRITE, S_FSYNC, S_OPEN, S_CREATE, S_UNLINK, S_MKDIR, S_RMDIR,
		S_MAXSTAT };

/* What the raw_syscalls variants do with a syscall (sc_action[nr] >> 8;
 * tools/vfsstat.py's SYSCALLS uses the same numbers). */
enum vfs_action { VA_NONE, VA_ENTRY, VA_MSYNC, VA_OPEN, VA_NS, VA_MKNOD, VA_MKNODAT,
		  VA_UNLINKAT };

struct vfs_counts {
	__u64 n[S_MAXSTAT];
};

#endif
