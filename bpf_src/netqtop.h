/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __NETQTOP_H
#define __NETQTOP_H

#define MAX_QUEUE_NUM 1024

/* Per queue (key: queue id): bytes, packets, packets by size. */
struct queue_data {
	__u64 total_pkt_len;
	__u32 num_pkt;
	__u32 size_64B;
	__u32 size_512B;
	__u32 size_2K;
	__u32 size_16K;
	__u32 size_64K;
};

#endif /* __NETQTOP_H */
