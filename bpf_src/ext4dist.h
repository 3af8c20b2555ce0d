/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXT4DIST_H
#define __EXT4DIST_H

struct op_key {
	__u32 op;       /* 0 read, 1 write, 2 open, 3 fsync */
};

struct hist {
	__u64 slots[65];
	__u64 sum_ns;      /* exact sum of the latencies in ns (targ_metrics only) */
};

#endif
