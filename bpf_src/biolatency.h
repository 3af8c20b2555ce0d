/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOLATENCY_H
#define __BIOLATENCY_H

struct hist_key {
	__u32 dev;      /* major << 20 | minor, with per-disk histograms */
	__u32 flags;    /* bcc-encoded, with per-flag histograms */
	__u64 cgroup;   /* the exporter's container label: cgroupid.bpf.h's rq_cgroup_id */
};

struct hist {
	__u64 slots[65];
	__u64 sum_ns;      /* exact sum of the latencies in ns (targ_metrics only) */
	__u64 total;    /* sum of latencies, in the histogram's unit */
	__u64 count;
};

#endif
