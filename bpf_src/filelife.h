/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILELIFE_H
#define __FILELIFE_H

#define LIFE_PATH_BUF 4096
#define LIFE_FNAME_MAX 4096

enum life_kind {
	LIFE_DEATH,        /* exact: a file seen born (ext4) was unlinked; age_ns set */
	LIFE_BIRTH_PATH,   /* a regular file created elsewhere: its path */
	LIFE_DEATH_PATH,   /* a successful unlink elsewhere: the path it named */
};

/* buf: dir_size bytes of directory names, innermost first, each
 * NUL-terminated, then fname_size bytes of the path the caller passed
 * (NUL included).  Emitted right-sized. */
struct life_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts;
	__u64 age_ns;
	__u32 pid;
	__u32 kind;
	__u16 dir_size;
	__u16 fname_size;
	char comm[16];
	__u8 buf[3 * LIFE_PATH_BUF];
};

#endif
