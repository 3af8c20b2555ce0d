/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPRETRANS_H
#define __TCPRETRANS_H

#define RETRANSMIT 1
#define TLP 2

/* One retransmitted segment (or tail loss probe). */
struct retrans_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u32 pid;
	__u32 seq;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 state;
	__u8 type;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* -c: retransmits counted per flow. */
struct flow_key {
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

#endif
