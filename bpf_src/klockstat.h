/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __KLOCKSTAT_H
#define __KLOCKSTAT_H

/* Per stack of the locking call (key: stack id): nanoseconds waited for
 * (acq_stats) or held (hld_stats) a kernel mutex. */
struct lock_stat {
	__u64 count;
	__u64 total;
	__u64 max;
};

#endif /* __KLOCKSTAT_H */
