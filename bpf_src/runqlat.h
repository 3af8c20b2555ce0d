/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __RUNQLAT_H
#define __RUNQLAT_H

struct hist {
	__u64 slots[65];
	__u64 sum_ns;      /* exact sum of the latencies in ns (targ_metrics only) */
};

#endif
