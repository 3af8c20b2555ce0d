/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sink of the *dist tools: a latency histogram per operation.  Include
 * after the probes (ext4ops.bpf.h, fsfuncs.bpf.h). */
#ifndef __FSDIST_BPF_H
#define __FSDIST_BPF_H

#include "cgroupid.bpf.h"

const volatile bool targ_ms = false;
const volatile bool targ_metrics = false;   /* the exporter's mode: exact ns sums */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FSOP_MAX);  /* resized with --containers */
	__type(key, struct op_key);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline void fsop_done(const struct fsop_start *s, __u64 end, __s64 ret)
{
	struct op_key key = { .op = s->op, .cgroup = event_cgroup_id() };
	struct hist *h;
	__u64 delta;

	if (end < s->ts)
		return;
	delta = end - s->ts;
	delta = targ_ms ? delta / 1000000 : delta / 1000;
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (!h)
		return;
	HIST_INC(h, hist_slot(delta));
	if (targ_metrics)
		__sync_fetch_and_add(&h->sum_ns, end - s->ts);
}

#endif
