// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* wqlat: workqueue latency, from queue_work() to the worker starting the
 * work item, as log2 histograms (one, or one per workqueue with -W).
 * Variants: tp_btf and raw_tp on workqueue_queue_work/execute_start: both
 * give the pool_workqueue, whose wq->name is read with CO-RE (the classic
 * tracepoint's field changed from a pointer to a string over the years). */
#include "corebpf.bpf.h"
#include "wqlat.h"

const volatile bool targ_per_wq = false;        /* -W */
const volatile bool targ_ns = false;            /* -N */
const volatile bool targ_filter = false;        /* -w NAME */
const volatile char targ_wqname[WQ_NAME_LEN] = {};

struct start_t {
	__u64 ts;
	struct wq_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);             /* struct work_struct * */
	__type(value, struct start_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct wq_key);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline bool name_ok(const char *name)
{
	int i;

	for (i = 0; i < WQ_NAME_LEN; i++) {
		if (name[i] != targ_wqname[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline int queued(struct pool_workqueue *pwq, struct work_struct *work)
{
	struct start_t s = {};
	struct workqueue_struct *wq = BPF_CORE_READ(pwq, wq);
	__u64 key = (__u64)work;

	if (targ_per_wq || targ_filter)
		bpf_probe_read_kernel_str(s.key.name, sizeof(s.key.name), wq->name);
	if (targ_filter && !name_ok(s.key.name))
		return 0;
	if (!targ_per_wq)
		__builtin_memset(&s.key, 0, sizeof(s.key));
	s.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &s, BPF_ANY);
	return 0;
}

static __always_inline int started(struct work_struct *work)
{
	__u64 key = (__u64)work, delta;
	struct start_t *s = bpf_map_lookup_elem(&start, &key);
	struct hist *h;

	if (!s)
		return 0;               /* queued before we started, or filtered */
	delta = bpf_ktime_get_ns() - s->ts;
	if (!targ_ns)
		delta /= 1000;
	h = map_lookup_or_init(&hists, &s->key, &zero_hist);
	if (h)
		HIST_INC(h, hist_slot(delta));
	bpf_map_delete_elem(&start, &key);
	return 0;
}

SEC("tp_btf/workqueue_queue_work")
int BPF_PROG(queue__btf, int req_cpu, struct pool_workqueue *pwq, struct work_struct *work)
{
	return queued(pwq, work);
}

SEC("tp_btf/workqueue_execute_start")
int BPF_PROG(execute__btf, struct work_struct *work)
{
	return started(work);
}

SEC("raw_tp/workqueue_queue_work")
int BPF_PROG(queue__raw, int req_cpu, struct pool_workqueue *pwq, struct work_struct *work)
{
	return queued(pwq, work);
}

SEC("raw_tp/workqueue_execute_start")
int BPF_PROG(execute__raw, struct work_struct *work)
{
	return started(work);
}
