/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPCONNECT_H
#define __TCPCONNECT_H

#define DNS_MAX 512

/* One active connect (a SYN sent). Addresses: 16 bytes, IPv4 in the first 4. */
struct connect_event {
	__u64 cgroup;   /* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 ts_us;
	__u32 pid;
	__u32 uid;
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
};

/* -c: connects counted per (family, saddr, daddr, dport). */
struct connect_key {
	__u16 family;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* -d: a UDP payload received from port 53 (a DNS answer, probably). */
struct dns_event {
	__u32 len;
	__u8 pkt[DNS_MAX];
};

#endif
