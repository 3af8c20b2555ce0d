// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* drsnoop: direct page reclaim, from the vmscan direct_reclaim_begin/end
 * tracepoints (tp_btf, then classic); optionally also a task's reclaim in
 * its memory cgroup when the cgroup is at its limit (memcg_reclaim_*).
 * The begin is kept per thread; the record is emitted at the end. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "drsnoop.h"

const volatile __s32 targ_tgid = 0;
const volatile __s32 targ_tid = 0;
const volatile __u32 targ_uid = INVALID_UID;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct reclaim_start);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct reclaim_event);

static __always_inline int reclaim_begin(bool memcg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct reclaim_start s = {};

	if (targ_tid && (__u32)id != targ_tid)
		return 0;
	if (!targ_tid && targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (targ_uid != INVALID_UID && current_uid() != targ_uid)
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.memcg = memcg;
	bpf_get_current_comm(&s.comm, sizeof(s.comm));
	bpf_map_update_elem(&start, &id, &s, BPF_ANY);
	return 0;
}

static __always_inline int reclaim_end(__u64 nr_reclaimed)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct reclaim_start *s;
	struct reclaim_event *e;

	s = bpf_map_lookup_elem(&start, &id);
	if (!s)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (e) {
		e->cgroup = event_cgroup_id();
		e->id = id;
		e->nr_reclaimed = nr_reclaimed;
		e->delta = now - s->ts;
		e->ts = now / 1000;
		e->uid = current_uid();
		e->memcg = s->memcg;
		__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &id);
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(begin__btf)
{
	return reclaim_begin(false);
}

SEC("tp_btf/mm_vmscan_direct_reclaim_end")
int BPF_PROG(end__btf, unsigned long nr_reclaimed)
{
	return reclaim_end(nr_reclaimed);
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(memcg_begin__btf)
{
	return reclaim_begin(true);
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(memcg_end__btf, unsigned long nr_reclaimed)
{
	return reclaim_end(nr_reclaimed);
}

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_begin")
int begin__tp(void *ctx)
{
	return reclaim_begin(false);
}

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_end")
int end__tp(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx)
{
	return reclaim_end(ctx->nr_reclaimed);
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_begin")
int memcg_begin__tp(void *ctx)
{
	return reclaim_begin(true);
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_end")
int memcg_end__tp(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx)
{
	return reclaim_end(ctx->nr_reclaimed);
}
