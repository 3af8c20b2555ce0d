// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biolatpcts: block I/O latency of one disk in bcc's three linear tiers,
 * from which Python computes percentiles.  At block_rq_complete the
 * latency runs from (-w) the request's allocation (alloc_time_ns), its
 * start (start_time_ns), or its issue to the device: bcc reads
 * io_start_time_ns, which the kernel only sets while I/O statistics
 * callbacks are active, so the issue is stamped here at block_rq_issue.
 * Variants: tp_btf and raw_tp (the request pointer is needed). */
#include "corebpf.bpf.h"
#include "blk.bpf.h"
#include "biolatpcts.h"

#define FROM_ALLOC 0
#define AFTER_ALLOC 1
#define ON_DEVICE 2

const volatile __u32 targ_dev = 0;
const volatile __u32 targ_which = ON_DEVICE;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);             /* struct request * */
	__type(value, __u64);
} issued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lat_slots);
} lats SEC(".maps");

/* alloc_time_ns needs CONFIG_BLK_RQ_ALLOC_TIME. */
struct request___alloc {
	__u64 alloc_time_ns;
};

static __always_inline int issue(struct request *rq)
{
	__u64 key = (__u64)rq, ts;

	if (targ_which != ON_DEVICE || rq_dev(rq) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&issued, &key, &ts, BPF_ANY);
	return 0;
}

static __always_inline __u64 start_of(struct request *rq)
{
	struct request___alloc *ra = (void *)rq;
	__u64 key = (__u64)rq, *tsp, ts = 0;

	if (targ_which == ON_DEVICE) {
		tsp = bpf_map_lookup_elem(&issued, &key);
		if (tsp) {
			ts = *tsp;
			bpf_map_delete_elem(&issued, &key);
		}
	} else if (targ_which == AFTER_ALLOC) {
		ts = BPF_CORE_READ(rq, start_time_ns);
	} else if (bpf_core_field_exists(ra->alloc_time_ns)) {
		ts = BPF_CORE_READ(ra, alloc_time_ns);
	}
	return ts;
}

/* BOUNDED: the verifiers of 6.1 and 5.10 must see the index bounded in the
 * register the access uses (corebpf.bpf.h). */
static __always_inline void bump(__u64 *tier, __u32 idx)
{
	if (idx < TIER_SLOTS)
		__sync_fetch_and_add(&tier[BOUNDED(idx, TIER_SLOTS - 1)], 1);
}

static __always_inline int complete(struct request *rq)
{
	__u32 op, base, slot, zero = 0;
	struct lat_slots *l;
	__u64 start, dur;

	if (rq_dev(rq) != targ_dev)
		return 0;
	start = start_of(rq);
	if (!start)
		return 0;
	op = BPF_CORE_READ(rq, cmd_flags) & ((1u << BLK_REQ_OP_BITS) - 1);
	if (op == REQ_OP(REQ_OP_READ))
		base = 0;
	else if (op == REQ_OP(REQ_OP_WRITE))
		base = 100;
	else if (op == REQ_OP(REQ_OP_DISCARD))
		base = 200;
	else if (op == REQ_OP(REQ_OP_FLUSH))
		base = 300;
	else
		return 0;
	dur = bpf_ktime_get_ns();
	if (dur < start)
		return 0;
	dur -= start;
	l = bpf_map_lookup_elem(&lats, &zero);
	if (!l)
		return 0;
	slot = dur / 100000000 < 99 ? dur / 100000000 : 99;
	bump(l->ms100, base + slot);
	if (slot)
		return 0;
	slot = dur / 1000000 < 99 ? dur / 1000000 : 99;
	bump(l->ms1, base + slot);
	if (slot)
		return 0;
	slot = dur / 10000 < 99 ? dur / 10000 : 99;
	bump(l->us10, base + slot);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(issue__btf, struct request *rq) { return issue(rq); }
SEC("tp_btf/block_rq_complete")
int BPF_PROG(complete__btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return complete(rq);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(issue__raw, struct request *rq) { return issue(rq); }
SEC("raw_tp/block_rq_complete")
int BPF_PROG(complete__raw, struct request *rq, int error, unsigned int nr_bytes)
{
	return complete(rq);
}
