/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPCONNLAT_H
#define __TCPCONNLAT_H

/* One completed active open: SYN sent -> SYN/ACK processed. */
struct connlat_event {
	__u64 cgroup;   /* --containers: the socket's cgroup (cgroupid.bpf.h) */
	__u64 ts_us;
	__u64 delta_us;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
};

/* The exporter's mode (targ_metrics): latencies per address family. */
struct lat_hist {
	__u64 slots[65];        /* log2 slots of microseconds */
	__u64 sum_ns;
};

#endif
