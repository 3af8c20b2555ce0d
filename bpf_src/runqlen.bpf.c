// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* runqlen: sampled run queue length.  A cpu-clock perf event on every CPU
 * (corebpf/perf.py) runs this in the interrupted task's context; the length
 * is the entities queued on that task's CFS run queue minus the running one. */
#include "corebpf.bpf.h"
#include "sched.bpf.h"
#include "runqlen.h"

const volatile bool targ_per_cpu = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);     /* CPU with -C, else 0 */
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

SEC("perf_event")
int sample(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct cfs_rq *rq = BPF_CORE_READ(task, se.cfs_rq);
	__u32 key = 0, len;
	struct hist *h;

	if (!rq)
		return 0;
	len = cfs_rq_queued(rq);
	if (len > 0)
		len--;          /* the running task */
	if (len >= RUNQLEN_SLOTS)
		len = RUNQLEN_SLOTS - 1;
	if (targ_per_cpu)
		key = bpf_get_smp_processor_id();
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	/* clang 14 drops the mask below (it knows len < RUNQLEN_SLOTS) and the
	 * verifier then sees an unbounded index: make it forget */
	barrier_var(len);
	if (h)
		__sync_fetch_and_add(&h->slots[len & (RUNQLEN_SLOTS - 1)], 1);
	return 0;
}
