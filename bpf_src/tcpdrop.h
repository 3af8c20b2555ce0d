/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPDROP_H
#define __TCPDROP_H

#define MAX_STACK 127

/* One TCP packet the kernel dropped.  Addresses and ports come from the
 * packet's headers: s* is the sender, d* the receiver. */
struct drop_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u32 pid;
	__u32 reason;           /* enum skb_drop_reason of the running kernel */
	__s32 stack_id;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;
	__u8 tcpflags;
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif
