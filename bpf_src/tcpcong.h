/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPCONG_H
#define __TCPCONG_H

struct flow_key {
	__u8 saddr[16];         /* IPv4: the first 4 bytes */
	__u8 daddr[16];
	__u16 lport;
	__u16 dport;
	__u16 family;
	__u16 pad;
};

/* Per flow: microseconds spent in each congestion state (TCP_CA_*) since
 * the flow's first state change seen, and the number of changes. */
struct flow_val {
	__u64 open_dura;
	__u64 loss_dura;
	__u64 disorder_dura;
	__u64 recover_dura;
	__u64 cwr_dura;
	__u64 total_changes;
	__u64 last_ts;
	__u32 last_cong_stat;   /* state + 1 */
	__u32 pad;
};

struct hist {
	__u64 slots[65];
};

#endif /* __TCPCONG_H */
