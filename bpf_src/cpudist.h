/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CPUDIST_H
#define __CPUDIST_H

struct hist {
	__u64 slots[65];
	__u64 sum_ns;      /* exact sum of the latencies in ns (targ_metrics only) */
};

struct ext_val {
	__u64 total;    /* in the histogram's unit */
	__u64 count;
};

#endif
