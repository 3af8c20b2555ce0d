/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __VFSSTAT_H
#define __VFSSTAT_H

/* Column order of bcc's vfsstat. */
enum vfs_stat { S_READ, S_WRITE, S_FSYNC, S_OPEN, S_CREATE, S_UNLINK, S_MKDIR, S_RMDIR,
		S_MAXSTAT };

struct vfs_counts {
	__u64 n[S_MAXSTAT];
};

#endif
