// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* softirqslower: softirqs that waited long after being raised, or ran long.
 * Per CPU and vector: softirq_raise stamps the first raise, softirq_entry
 * reports raise -> entry and stamps the start, softirq_exit reports the
 * run time.  Variants: tp_btf, raw_tp and classic irq:softirq_* tracepoints. */
#include "corebpf.bpf.h"
#include "softirqslower.h"

#define NR_VECS 16              /* NR_SOFTIRQS is 10; room for more */

const volatile __u64 targ_min_ns = 10000000;
const volatile __s32 targ_cpu = -1;

struct stamps {
	__u64 raised[NR_VECS];
	__u64 entered[NR_VECS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stamps);
} stamps SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct softirq_event);

/* vec as an index the verifier sees bounded (the compiler would otherwise
 * drop the mask, knowing the range from the check in this_cpu()). */
static __always_inline __u64 vec_index(__u32 vec)
{
	__u64 i = vec;

	asm volatile("%0 &= 15" : "+r"(i));
	return i;
}

static __always_inline struct stamps *this_cpu(__u32 vec)
{
	__u32 zero = 0;

	if (vec >= NR_VECS)
		return NULL;
	if (targ_cpu >= 0 && bpf_get_smp_processor_id() != targ_cpu)
		return NULL;
	return bpf_map_lookup_elem(&stamps, &zero);
}

static __always_inline void report(__u32 stage, __u32 vec, __u64 delta)
{
	struct softirq_event *e;

	if (delta < targ_min_ns)
		return;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->delta_ns = delta;
	e->stage = stage;
	e->vec = vec;
	e->cpu = bpf_get_smp_processor_id();
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int raised(__u32 vec)
{
	struct stamps *s = this_cpu(vec);
	__u64 i = vec_index(vec);

	if (s && !s->raised[i])
		s->raised[i] = bpf_ktime_get_ns();     /* the first raise counts */
	return 0;
}

static __always_inline int entered(__u32 vec)
{
	struct stamps *s = this_cpu(vec);
	__u64 i = vec_index(vec), now;

	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	if (s->raised[i]) {             /* raised while we watched */
		report(STAGE_ENTRY, vec, now - s->raised[i]);
		s->raised[i] = 0;
	}
	s->entered[i] = now;
	return 0;
}

static __always_inline int exited(__u32 vec)
{
	struct stamps *s = this_cpu(vec);
	__u64 i = vec_index(vec);

	if (!s || !s->entered[i])
		return 0;
	report(STAGE_EXIT, vec, bpf_ktime_get_ns() - s->entered[i]);
	s->entered[i] = 0;
	return 0;
}

SEC("tp_btf/softirq_raise")
int BPF_PROG(raise__btf, unsigned int vec) { return raised(vec); }
SEC("tp_btf/softirq_entry")
int BPF_PROG(entry__btf, unsigned int vec) { return entered(vec); }
SEC("tp_btf/softirq_exit")
int BPF_PROG(exit__btf, unsigned int vec) { return exited(vec); }

SEC("raw_tp/softirq_raise")
int BPF_PROG(raise__raw, unsigned int vec) { return raised(vec); }
SEC("raw_tp/softirq_entry")
int BPF_PROG(entry__raw, unsigned int vec) { return entered(vec); }
SEC("raw_tp/softirq_exit")
int BPF_PROG(exit__raw, unsigned int vec) { return exited(vec); }

SEC("tracepoint/irq/softirq_raise")
int raise__tp(struct trace_event_raw_softirq *ctx) { return raised(ctx->vec); }
SEC("tracepoint/irq/softirq_entry")
int entry__tp(struct trace_event_raw_softirq *ctx) { return entered(ctx->vec); }
SEC("tracepoint/irq/softirq_exit")
int exit__tp(struct trace_event_raw_softirq *ctx) { return exited(ctx->vec); }
