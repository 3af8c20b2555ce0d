// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biolatency: block I/O latency histograms, aggregated in the kernel.
 * Variants, best first: tp_btf (typed struct request *), raw_tp (same
 * arguments untyped) and classic tracepoints keyed by (dev, sector). */
#include "corebpf.bpf.h"
#include "blk.bpf.h"
#include "cgroupid.bpf.h"
#include "biolatency.h"

const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_queued = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_dev = 0;      /* 0: every disk */
const volatile bool targ_metrics = false;   /* the exporter's mode: exact ns sums */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct tp_key {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct tp_key);
	__type(value, __u64);
} start_tp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline void account(__u64 delta, __u32 dev, __u32 flags, __u64 cgroup)
{
	struct hist_key key = {};
	struct hist *h;
	__u64 v;

	v = targ_ms ? delta / 1000000 : delta / 1000;
	if (targ_per_disk)
		key.dev = dev;
	if (targ_per_flag)
		key.flags = flags;
	if (targ_containers)
		key.cgroup = cgroup;
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (!h)
		return;
	HIST_INC(h, hist_slot(v));
	if (targ_metrics)
		__sync_fetch_and_add(&h->sum_ns, delta);
	__sync_fetch_and_add(&h->total, v);
	__sync_fetch_and_add(&h->count, 1);
}

static __always_inline int rq_start(struct request *rq, bool insert)
{
	__u64 ts;

	if (insert != targ_queued)
		return 0;
	if (targ_dev && rq_dev(rq) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

static __always_inline int rq_done(struct request *rq)
{
	__u64 *tsp, now = bpf_ktime_get_ns();

	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	if (now >= *tsp)
		account(now - *tsp, rq_dev(rq), bcc_flags(BPF_CORE_READ(rq, cmd_flags)),
			targ_containers ? rq_cgroup_id(rq) : 0);
	bpf_map_delete_elem(&start, &rq);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(insert__btf, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(issue__btf, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(complete__btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return rq_done(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(insert__raw, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(issue__raw, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(complete__raw, struct request *rq, int error, unsigned int nr_bytes)
{
	return rq_done(rq);
}

/* Classic tracepoints: no request pointer, so key by (dev, sector) as bcc
 * does; no request flags either (per-flag histograms need the others). */
static __always_inline int tp_start(__u32 dev, __u64 sector, bool insert)
{
	struct tp_key key = { .dev = dev, .sector = sector };
	__u64 ts;

	if (insert != targ_queued)
		return 0;
	if (targ_dev && dev != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start_tp, &key, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_insert")
int insert__tp(struct trace_event_raw_block_rq *ctx)
{
	return tp_start(ctx->dev, ctx->sector, true);
}

SEC("tracepoint/block/block_rq_issue")
int issue__tp(struct trace_event_raw_block_rq *ctx)
{
	return tp_start(ctx->dev, ctx->sector, false);
}

/* Kernels without the block_rq_completion event class (5.10) describe
 * block_rq_complete with an event structure of its own.  Read with helper
 * calls: clang would compute the field's address on each branch and load
 * once, and the verifier refuses a context pointer moved by a register. */
struct trace_event_raw_block_rq_complete___own {
	dev_t dev;
	sector_t sector;
} __attribute__((preserve_access_index));

SEC("tracepoint/block/block_rq_complete")
int complete__tp(void *ctx)
{
	struct trace_event_raw_block_rq_completion *c = ctx;
	struct trace_event_raw_block_rq_complete___own *own = ctx;
	struct tp_key key = {};
	__u64 *tsp, now = bpf_ktime_get_ns();

	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion)) {
		BPF_CORE_READ_INTO(&key.dev, c, dev);
		BPF_CORE_READ_INTO(&key.sector, c, sector);
	} else {
		BPF_CORE_READ_INTO(&key.dev, own, dev);
		BPF_CORE_READ_INTO(&key.sector, own, sector);
	}

	tsp = bpf_map_lookup_elem(&start_tp, &key);
	if (!tsp)
		return 0;
	if (now >= *tsp)
		account(now - *tsp, key.dev, 0, 0);  /* no request: no cgroup */
	bpf_map_delete_elem(&start_tp, &key);
	return 0;
}
