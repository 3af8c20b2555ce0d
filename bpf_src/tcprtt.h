/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPRTT_H
#define __TCPRTT_H

/* -e: the sum and number of the smoothed RTTs seen per histogram key */
struct rtt_sum {
	__u64 latency;
	__u64 count;
};

struct hist {
	__u64 slots[65];
};

#endif /* __TCPRTT_H */
