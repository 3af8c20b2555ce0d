/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPLIFE_H
#define __TCPLIFE_H

/* One closed TCP session. */
struct life_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u64 ts_us;
	__u64 span_us;
	__u64 rx_b;
	__u64 tx_b;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad[3];
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[16];
};

/* The exporter's mode (targ_metrics): sessions per address family. */
struct life_hist {
	__u64 slots[65];        /* log2 slots of session durations in microseconds */
	__u64 sum_ns;
	__u64 tx_b;             /* bytes acked by the peer, summed over the sessions */
	__u64 rx_b;             /* bytes received */
};

#endif
