// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* hardirqs: time (or count) per hard IRQ handler, by action name.  Handlers
 * do not nest on a CPU, so entry state is per CPU.  Variants: tp_btf, raw_tp
 * and classic tracepoints on irq_handler_entry/exit. */
#include "corebpf.bpf.h"
#include "irqs.h"

#define IRQ_NONE 0

const volatile bool targ_count = false;
const volatile bool targ_dist = false;
const volatile bool targ_ns = false;
const volatile __s32 targ_cpu = -1;

struct irq_key {
	char name[IRQ_NAME_LEN];
};

struct irq_start {
	__u64 ts;
	struct irq_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct irq_start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct irq_key);
	__type(value, __u64);
} sums SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct irq_key);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline int entry(const void *name)
{
	__u32 zero = 0;
	struct irq_start *s;

	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	s = bpf_map_lookup_elem(&start, &zero);
	if (!s)
		return 0;
	if (bpf_probe_read_kernel_str(s->key.name, sizeof(s->key.name), name) < 0)
		s->key.name[0] = 0;
	s->ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int exit(int ret)
{
	__u32 zero = 0;
	struct irq_start *s;
	struct hist *h;
	__u64 delta, one = 1, *v;

	s = bpf_map_lookup_elem(&start, &zero);
	if (!s || !s->ts)
		return 0;
	delta = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	if (ret == IRQ_NONE)
		return 0;       /* not this handler's interrupt */
	if (targ_dist) {
		h = map_lookup_or_init(&hists, &s->key, &zero_hist);
		if (h)
			HIST_INC(h, hist_slot(targ_ns ? delta : delta / 1000));
		return 0;
	}
	v = bpf_map_lookup_elem(&sums, &s->key);
	if (v) {
		__sync_fetch_and_add(v, targ_count ? 1 : delta);
		return 0;
	}
	if (!targ_count)
		one = delta;
	bpf_map_update_elem(&sums, &s->key, &one, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(entry__btf, int irq, struct irqaction *action)
{
	return entry(BPF_CORE_READ(action, name));
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(exit__btf, int irq, struct irqaction *action, int ret)
{
	return exit(ret);
}

SEC("raw_tp/irq_handler_entry")
int BPF_PROG(entry__raw, int irq, struct irqaction *action)
{
	return entry(BPF_CORE_READ(action, name));
}

SEC("raw_tp/irq_handler_exit")
int BPF_PROG(exit__raw, int irq, struct irqaction *action, int ret)
{
	return exit(ret);
}

SEC("tracepoint/irq/irq_handler_entry")
int entry__tp(struct trace_event_raw_irq_handler_entry *ctx)
{
	/* __data_loc: low 16 bits are the offset of the string in the record */
	return entry((void *)ctx + (ctx->__data_loc_name & 0xFFFF));
}

SEC("tracepoint/irq/irq_handler_exit")
int exit__tp(struct trace_event_raw_irq_handler_exit *ctx)
{
	return exit(ctx->ret);
}
