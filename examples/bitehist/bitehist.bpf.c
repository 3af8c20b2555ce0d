// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/bitehist.py: block I/O size histograms, log2 and
 * linear, in Kbytes.  bcc's kprobe on the completion function becomes the
 * block_rq_complete tracepoint; bcc's BPF_HISTOGRAM(dist) (an array keyed
 * by slot) is spelled out, and bpf_log2l() is corebpf.bpf.h's hist_slot(). */
#include "corebpf.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dist SEC(".maps");

/* one slot per Kbyte count: a hash, so that large requests are not dropped */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} dist_linear SEC(".maps");

static __always_inline void increment(void *map, __u32 key)
{
	static const __u64 zero;
	__u64 *v = map_lookup_or_init(map, &key, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/block/block_rq_complete")
int trace_req_done(struct trace_event_raw_block_rq_completion *ctx)
{
	__u32 kbytes = ctx->nr_sector / 2;	/* 512-byte sectors */

	increment(&dist, hist_slot(kbytes));
	increment(&dist_linear, kbytes);
	return 0;
}
