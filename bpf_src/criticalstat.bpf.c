// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* criticalstat: sections where IRQs (or preemption) stayed disabled longer
 * than a threshold, with the kernel stack where they ended.  Needs the
 * preemptirq tracepoints (CONFIG_PREEMPTIRQ_TRACEPOINTS; irq_* also
 * CONFIG_TRACE_IRQFLAGS, preempt_* CONFIG_TRACE_PREEMPT_TOGGLE): there is
 * no other source, kprobes cannot see these sections.  power:cpu_idle
 * marks sections overlapping idle, which bcc skips as noise.  Python
 * enables the irq_* or preempt_* pair. */
#include "corebpf.bpf.h"
#include "stacks.bpf.h"
#include "cgroupid.bpf.h"
#include "criticalstat.h"

const volatile __u64 targ_min_ns = 100000;

/* The preemptirq event layout (kernels without the tracepoints have no
 * type for it in their BTF). */
struct preemptirq_args {
	__u64 common;
	__s32 caller_offs;
	__s32 parent_offs;
};

struct cpu_idle_args {
	__u64 common;
	__u32 state;
	__u32 cpu_id;
};

struct start_data {
	__s32 addr_offs[2];
	__u64 ts;
	__u32 idle_skip;
	__u32 active;
};

STACK_TRACE_MAP(stack_traces, 16384);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct start_data);
} sts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} isidle SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct section_event);

SEC("tracepoint/power/cpu_idle")
int cpu_idle__tp(struct cpu_idle_args *ctx)
{
	__u32 zero = 0;
	struct start_data *s = bpf_map_lookup_elem(&sts, &zero);
	__u64 *idle = bpf_map_lookup_elem(&isidle, &zero);

	if (s && s->active)
		s->idle_skip = 1;       /* the section overlaps idle: skip it */
	if (idle)
		*idle = ctx->state < 100;       /* PWR_EVENT_EXIT is (u32)-1 */
	return 0;
}

static __always_inline bool in_idle(void)
{
	__u32 zero = 0;
	__u64 *idle = bpf_map_lookup_elem(&isidle, &zero);

	return idle && *idle;
}

static __always_inline int section_start(struct preemptirq_args *ctx)
{
	__u32 zero = 0;
	struct start_data *s = bpf_map_lookup_elem(&sts, &zero);

	if (!s)
		return 0;
	if (in_idle()) {
		__builtin_memset(s, 0, sizeof(*s));
		return 0;
	}
	s->addr_offs[0] = ctx->caller_offs;
	s->addr_offs[1] = ctx->parent_offs;
	s->ts = bpf_ktime_get_ns();
	s->idle_skip = 0;
	s->active = 1;
	return 0;
}

static __always_inline int section_end(struct preemptirq_args *ctx)
{
	__u32 zero = 0;
	struct start_data *s = bpf_map_lookup_elem(&sts, &zero);
	struct section_event *e;
	__u64 now, diff;

	if (!s)
		return 0;
	if (in_idle() || !s->active || s->idle_skip)
		goto reset;
	now = bpf_ktime_get_ns();
	if (s->ts > now)
		goto reset;
	diff = now - s->ts;
	if (diff < targ_min_ns)
		goto reset;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto reset;
	e->time = diff;
	e->cgroup = event_cgroup_id();
	e->id = bpf_get_current_pid_tgid();
	e->cpu = bpf_get_smp_processor_id();
	e->addrs[0] = s->addr_offs[0];
	e->addrs[1] = s->addr_offs[1];
	e->addrs[2] = ctx->caller_offs;
	e->addrs[3] = ctx->parent_offs;
	e->stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
reset:
	__builtin_memset(s, 0, sizeof(*s));
	return 0;
}

SEC("tracepoint/preemptirq/irq_disable")
int irq_disable__tp(struct preemptirq_args *ctx) { return section_start(ctx); }
SEC("tracepoint/preemptirq/irq_enable")
int irq_enable__tp(struct preemptirq_args *ctx) { return section_end(ctx); }
SEC("tracepoint/preemptirq/preempt_disable")
int preempt_disable__tp(struct preemptirq_args *ctx) { return section_start(ctx); }
SEC("tracepoint/preemptirq/preempt_enable")
int preempt_enable__tp(struct preemptirq_args *ctx) { return section_end(ctx); }
