/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPTOP_H
#define __TCPTOP_H

/* Traffic of one process on one TCP connection. */
struct traffic_key {
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
};

struct traffic {
	__u64 sent;
	__u64 received;
};

#endif
