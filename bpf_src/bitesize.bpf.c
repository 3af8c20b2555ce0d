// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bitesize: histogram of block request sizes (Kbytes) per issuing command
 * (or, --containers, per request's cgroup: rq_cgroup_id), taken when
 * requests are issued to the driver. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"

struct comm_key {
	char comm[TASK_COMM_LEN];
	__u64 cgroup;   /* --containers (then no comm) */
};

struct hist {
	__u64 slots[HIST_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct comm_key);
	__type(value, struct hist);
} dist SEC(".maps");

static struct hist zero_hist;

static __always_inline int count(__u32 bytes, const char *comm, bool from_ctx,
				 struct request *rq)
{
	struct comm_key key = {};
	struct hist *h;

	if (targ_containers)
		key.cgroup = rq ? rq_cgroup_id(rq) : 0;
	else if (from_ctx)   /* a tracepoint field: copy, not a read through ctx + off */
		bpf_probe_read_kernel(key.comm, sizeof(key.comm), comm);
	else
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	h = map_lookup_or_init(&dist, &key, &zero_hist);
	if (!h)
		return 0;
	HIST_INC(h, hist_slot(bytes / 1024));
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(issue__btf, struct request *rq)
{
	return count(BPF_CORE_READ(rq, __data_len), NULL, false, rq);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(issue__raw, struct request *rq)
{
	return count(BPF_CORE_READ(rq, __data_len), NULL, false, rq);
}

SEC("tracepoint/block/block_rq_issue")
int issue__tp(struct trace_event_raw_block_rq *ctx)
{
	return count(ctx->bytes, ctx->comm, true, NULL);
}
