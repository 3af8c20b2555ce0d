// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cpuunclaimed: sampled run queue lengths of all CPUs at once, to find idle
 * CPUs while others had work queued.  A cpu-clock event samples every CPU
 * at 99 Hz; each sample keeps its CPU's length (the CFS tasks runnable on
 * it in every task group, running one included; bcc reads the interrupted
 * task's own group's queue, which misses other autogroups and cgroups).  bcc groups the
 * samples in user space by their timestamps, which fails once the CPUs'
 * timers drift apart; here each sample of the leader CPU sends the group
 * of every CPU's latest sample, and samples older than 1.5 periods count
 * as none (an idle CPU, as bcc counts missing ones). */
#include "corebpf.bpf.h"
#include "sched.bpf.h"
#include "cpuunclaimed.h"

const volatile __u32 targ_leader = 0;
const volatile __u32 targ_ncpu = 1;             /* CPU ids 0..ncpu-1 are looked at */
const volatile __u32 targ_online = 1;           /* online CPUs (bcc's ncpu) */
const volatile __u64 targ_stale_ns = 15151515;  /* 1.5 periods of 99 Hz */
const volatile bool targ_csv = false;           /* -j/-J: send every group */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CU_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct cpu_sample);
} last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct totals);
} totals SEC(".maps");

/* A scratch group for the statistics (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct group);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct group);

SEC("perf_event")
int sample(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct cfs_rq *rq = BPF_CORE_READ(task, se.cfs_rq);
	__u32 cpu = bpf_get_smp_processor_id(), i;
	__u32 zero = 0, running = 0, queued = 0, idle;
	struct cpu_sample *s, *o;
	struct totals *t;
	struct group *g;
	__u64 now = bpf_ktime_get_ns();

	s = bpf_map_lookup_elem(&last, &cpu);
	if (!s)
		return 0;
	s->len = rq ? cpu_cfs_runnable(rq) : 0;
	s->ts = now;
	if (cpu != targ_leader)
		return 0;
	g = targ_csv ? RINGBUF_RESERVE(events, sizeof(*g)) : bpf_map_lookup_elem(&scratch, &zero);
	if (!g)
		return 0;
	g->ts = now;
	g->ncpu = targ_ncpu;
	g->pad = 0;
	for (i = 0; i < CU_MAX_CPUS; i++) {
		/* 6.1's verifier: the index bounded in the register used, the
		 * lookup key a copy (a spilled 32-bit counter loses its bounds) */
		struct cpu_sample *c = &g->cpus[BOUNDED(i, CU_MAX_CPUS - 1)];
		__u32 key = i;

		c->ts = 0;
		c->len = 0;
		c->pad = 0;
		if (i >= targ_ncpu)
			continue;
		o = bpf_map_lookup_elem(&last, &key);
		if (o && o->ts && o->ts <= now && now - o->ts < targ_stale_ns) {
			c->ts = o->ts;
			c->len = o->len;
			if (o->len > 0)
				running++;
			if (o->len > 1)
				queued += o->len - 1;
		}
	}
	if (targ_csv) {
		bpf_ringbuf_submit(g, 0);
		return 0;
	}
	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return 0;
	idle = targ_online > running ? targ_online - running : 0;
	if (idle && queued)
		__sync_fetch_and_add(&t->positive, queued < idle ? queued : idle);
	__sync_fetch_and_add(&t->running, running);
	__sync_fetch_and_add(&t->idle, idle);
	__sync_fetch_and_add(&t->groups, 1);
	return 0;
}
