/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPTRACER_H
#define __TCPTRACER_H

#define TCPT_CONNECT 1
#define TCPT_ACCEPT 2
#define TCPT_CLOSE 3

/* One connect (C), accept (A) or close (X).  saddr/sport: this host. */
struct tcpt_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u64 ts_ns;
	__u32 pid;
	__u32 netns;
	__u8 type;
	__u8 ip;                /* 4 or 6 */
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
};

/* A connect in progress: who called connect() (the handshake ends in softirq) */
struct tcpt_owner {
	__u32 pid;
	__u32 pad;
	char comm[16];
};

#endif /* __TCPTRACER_H */
