// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* softirqs: time (or count) per softirq vector.  Softirqs do not nest on a
 * CPU, so entry state is per CPU.  Variants: tp_btf, raw_tp and classic
 * tracepoints on softirq_entry/exit. */
#include "corebpf.bpf.h"
#include "irqs.h"

const volatile bool targ_count = false;
const volatile bool targ_dist = false;
const volatile bool targ_ns = false;
const volatile __s32 targ_cpu = -1;

struct sirq_start {
	__u64 ts;
	__u32 vec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sirq_start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);     /* vector */
	__type(value, __u64);
} sums SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline int entry(__u32 vec)
{
	__u32 zero = 0;
	struct sirq_start *s;

	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	s = bpf_map_lookup_elem(&start, &zero);
	if (!s)
		return 0;
	s->vec = vec;
	s->ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int exit(void)
{
	__u32 zero = 0, vec;
	struct sirq_start *s;
	struct hist *h;
	__u64 delta, one = 1, *v;

	s = bpf_map_lookup_elem(&start, &zero);
	if (!s || !s->ts)
		return 0;
	delta = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	vec = s->vec;
	if (targ_dist) {
		h = map_lookup_or_init(&hists, &vec, &zero_hist);
		if (h)
			HIST_INC(h, hist_slot(targ_ns ? delta : delta / 1000));
		return 0;
	}
	v = bpf_map_lookup_elem(&sums, &vec);
	if (v) {
		__sync_fetch_and_add(v, targ_count ? 1 : delta);
		return 0;
	}
	if (!targ_count)
		one = delta;
	bpf_map_update_elem(&sums, &vec, &one, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(entry__btf, unsigned int vec)
{
	return entry(vec);
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(exit__btf, unsigned int vec)
{
	return exit();
}

SEC("raw_tp/softirq_entry")
int BPF_PROG(entry__raw, unsigned int vec)
{
	return entry(vec);
}

SEC("raw_tp/softirq_exit")
int BPF_PROG(exit__raw, unsigned int vec)
{
	return exit();
}

SEC("tracepoint/irq/softirq_entry")
int entry__tp(struct trace_event_raw_softirq *ctx)
{
	return entry(ctx->vec);
}

SEC("tracepoint/irq/softirq_exit")
int exit__tp(struct trace_event_raw_softirq *ctx)
{
	return exit();
}
