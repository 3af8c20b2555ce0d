// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/disksnoop.py: every block I/O with its size and
 * latency.  bcc probes blk_mq_start_request/__blk_account_io_done by kprobe
 * and keys requests by pointer; here the block tracepoints (every kernel, no
 * kprobes needed) key them by device and sector, and their context structs
 * come from vmlinux.h, relocated by CO-RE. */
#include "corebpf.bpf.h"

struct req_key {
	__u64 dev;
	__u64 sector;
};

struct start {
	__u64 ts;
	__u32 bytes;
	char rwbs[8];
};

struct event {
	__u64 ts;		/* completion, ns since boot */
	__u64 delta_us;
	__u32 bytes;
	char rwbs[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct req_key);
	__type(value, struct start);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct event);

SEC("tracepoint/block/block_rq_issue")
int trace_start(struct trace_event_raw_block_rq *ctx)
{
	struct req_key k = { .dev = ctx->dev, .sector = ctx->sector };
	struct start s = { .ts = bpf_ktime_get_ns(), .bytes = ctx->bytes };

	bpf_probe_read_kernel_str(s.rwbs, sizeof(s.rwbs), ctx->rwbs);
	bpf_map_update_elem(&start, &k, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int trace_completion(struct trace_event_raw_block_rq_completion *ctx)
{
	struct req_key k = { .dev = ctx->dev, .sector = ctx->sector };
	struct start *s = bpf_map_lookup_elem(&start, &k);
	struct event *e;
	__u64 now;

	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (e) {
		e->ts = now;
		e->delta_us = (now - s->ts) / 1000;
		e->bytes = s->bytes;
		__builtin_memcpy(e->rwbs, s->rwbs, sizeof(e->rwbs));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &k);
	return 0;
}
