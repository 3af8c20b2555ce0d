/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __MOUNTSNOOP_H
#define __MOUNTSNOOP_H

#define MNT_STR_LEN 412        /* bcc's limit for mount() strings */
#define MNT_KEY_LEN 32         /* fsconfig key and value */
#define MNT_PATH_LEN 128       /* move_mount paths */

enum mount_op { OP_MOUNT, OP_UMOUNT, OP_FSOPEN, OP_FSCONFIG, OP_FSMOUNT, OP_MOVE_MOUNT };

/* One mount-API syscall, emitted at return: its raw arguments and the
 * strings they point to (which strings depends on op). */
struct mount_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 args[6];
	__s64 ret;
	__u32 op;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 mnt_ns;
	char comm[16];
	char pcomm[16];
	char str[4][MNT_STR_LEN];
};

#endif
