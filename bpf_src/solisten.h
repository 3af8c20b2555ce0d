/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SOLISTEN_H
#define __SOLISTEN_H

/* One listen() on an IPv4/IPv6 stream socket. */
struct listen_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts_us;
	__u32 pid;
	__s32 backlog;
	__s32 ret;
	__u32 netns;
	__u16 family;
	__u16 type;
	__u16 port;
	__u16 pad;
	__u8 addr[16];
	char comm[16];
};

#endif
