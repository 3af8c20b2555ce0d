// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ext4dist: latency histograms of ext4 reads, writes, opens and fsyncs,
 * one per operation (probes in ext4ops.bpf.h). */
#include "corebpf.bpf.h"
#include "ext4dist.h"
#include "ext4ops.bpf.h"

const volatile bool targ_ms = false;
const volatile bool targ_metrics = false;   /* the exporter's mode: exact ns sums */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, struct op_key);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline void fsop_done(__u32 op, __u64 start, __u64 end, __s64 ret,
				      __u64 offset, struct file *fp)
{
	struct op_key key = { .op = op };
	struct hist *h;
	__u64 delta;

	if (end < start)
		return;
	delta = end - start;
	delta = targ_ms ? delta / 1000000 : delta / 1000;
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (!h)
		return;
	HIST_INC(h, hist_slot(delta));
	if (targ_metrics)
		__sync_fetch_and_add(&h->sum_ns, end - start);
}
