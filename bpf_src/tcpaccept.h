/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPACCEPT_H
#define __TCPACCEPT_H

/* One accepted TCP connection.  laddr/lport: this host, raddr/rport: the peer. */
struct accept_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts_us;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad[3];
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[16];
};

#endif
