// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* oomkill: OOM kills.  The kprobe on oom_kill_process() (bcc's probe) sees
 * the oom_control with the chosen victim and the pages the OOM domain had.
 * The oom:mark_victim tracepoint (tp_btf, then classic; Linux 6.x form with
 * the victim task) runs inside the kill in the allocating task's context,
 * so current is the trigger; it has no oom_control, so the domain size is
 * worked out: the limit of a memory cgroup at its limit above the trigger
 * (or the victim), else 0 and user space reports RAM + swap. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "oomkill.h"

#define MEMCG_DEPTH 8
/* A failed charge leaves the cgroup's usage within one charge (a THP at
 * most) of its limit. */
#define OOM_SLACK_PAGES 1024
/* page counters at PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE) mean "no limit" */
#define UNLIMITED_PAGES (1ULL << 45)

EVENTS_RINGBUF(events, 1 << 16, struct oom_event);

const volatile bool targ_metrics = false;   /* the exporter's mode: a count, no events */
__u64 kills = 0;                            /* targ_metrics: OOM kills seen */

/* Before Linux 4.16 (commit bbec2e15170a) the limit was called `limit`. */
struct page_counter___old {
	unsigned long limit;
};

static __always_inline unsigned long counter_max(struct page_counter *pc)
{
	struct page_counter___old *old = (void *)pc;

	if (bpf_core_field_exists(pc->max))
		return BPF_CORE_READ(pc, max);
	return BPF_CORE_READ(old, limit);
}

/* The limit, in pages, of the first memory cgroup from t's upwards that is
 * at its limit; 0 if none is. */
static __always_inline __u64 memcg_at_limit(struct task_struct *t)
{
	struct cgroup_subsys_state *css;
	struct mem_cgroup *memcg;
	struct page_counter *pc;
	int id, i;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	if (id < 0 || id >= 16)
		return 0;
	css = BPF_CORE_READ(t, cgroups, subsys[id]);
	if (!css)
		return 0;
	memcg = container_of(css, struct mem_cgroup, css);
	pc = __builtin_preserve_access_index(&memcg->memory);
	for (i = 0; i < MEMCG_DEPTH && pc; i++) {
		unsigned long max = counter_max(pc);
		long usage = BPF_CORE_READ(pc, usage.counter);

		if (max < UNLIMITED_PAGES && usage + OOM_SLACK_PAGES >= max)
			return max;
		pc = BPF_CORE_READ(pc, parent);
	}
	return 0;
}

static __always_inline struct oom_event *start_event(void)
{
	struct oom_event *e;

	if (targ_metrics) {
		__sync_fetch_and_add(&kills, 1);
		return NULL;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));

	if (!e)
		return NULL;
	e->fpid = current_tgid();
	e->cgroup = event_cgroup_id();
	bpf_get_current_comm(&e->fcomm, sizeof(e->fcomm));
	return e;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(victim__btf, struct task_struct *victim)
{
	struct oom_event *e = start_event();
	__u64 pages;

	if (!e)
		return 0;
	e->tpid = BPF_CORE_READ(victim, tgid);
	BPF_CORE_READ_STR_INTO(&e->tcomm, victim, comm);
	pages = memcg_at_limit(current_task());
	e->pages = pages ? pages : memcg_at_limit(victim);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/oom/mark_victim")
int victim__tp(struct trace_event_raw_mark_victim *ctx)
{
	struct oom_event *e = start_event();
	__u32 loc;

	if (!e)
		return 0;
	e->tpid = ctx->pid;
	loc = BPF_CORE_READ(ctx, __data_loc_comm);
	bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), (void *)ctx + (loc & 0xFFFF));
	e->pages = memcg_at_limit(current_task());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(kill__kprobe, struct oom_control *oc, const char *message)
{
	struct task_struct *victim = BPF_CORE_READ(oc, chosen);
	struct oom_event *e = start_event();

	if (!e)
		return 0;
	e->tpid = BPF_CORE_READ(victim, tgid);
	BPF_CORE_READ_STR_INTO(&e->tcomm, victim, comm);
	e->pages = BPF_CORE_READ(oc, totalpages);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
