/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SYSCOUNT_H
#define __SYSCOUNT_H

/* Per syscall number (or per process with -P). */
struct sc_val {
	__u64 count;
	__u64 total_ns;        /* with latency only */
	__u64 errors;          /* calls that returned < 0 (targ_metrics only) */
};

struct comm_key {
	char comm[16];
};

#endif
