/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPSTATES_H
#define __TCPSTATES_H

/* One TCP state change. */
struct state_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u64 skaddr;
	__u64 ts_us;
	__u64 span_us;          /* time in oldstate; 0 for the first change seen */
	__u32 pid;
	__s32 oldstate;
	__s32 newstate;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad[3];
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[16];
};

#endif
