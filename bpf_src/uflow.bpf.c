// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uflow: method entry/return events with a per-thread call depth, from a
 * language runtime's USDT probes.  Class/method prefix filters are applied
 * here, before the depth changes, so filtered calls do not indent. */
#include "corebpf.bpf.h"
#include "ulang.bpf.h"
#include "cgroupid.bpf.h"
#include "uflow.h"

const volatile char targ_class_prefix[NAME_LEN] = {};
const volatile __u32 targ_class_prefix_len = 0;
const volatile char targ_method_prefix[NAME_LEN] = {};
const volatile __u32 targ_method_prefix_len = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u32);
} depths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct method);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct flow_event);

static __always_inline bool has_prefix(const char *s, const volatile char *p, __u32 n)
{
	for (int i = 0; i < NAME_LEN; i++) {
		if (i >= n)
			return true;
		if (s[i] != p[i])
			return false;
	}
	return true;
}

static __always_inline int flow(struct pt_regs *ctx, bool entry)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0, d, *depth;
	struct flow_event *e;
	struct method *m;

	m = bpf_map_lookup_elem(&scratch, &zero);
	if (!m)
		return 0;
	__builtin_memset(m, 0, sizeof(*m));
	read_method(ctx, m);
	if (targ_class_prefix_len &&
	    !has_prefix(m->clazz, targ_class_prefix, targ_class_prefix_len))
		return 0;
	if (targ_method_prefix_len &&
	    !has_prefix(m->method, targ_method_prefix, targ_method_prefix_len))
		return 0;
	depth = map_lookup_or_init(&depths, &id, &zero);
	if (!depth)
		return 0;
	if (entry) {
		d = *depth + 1;
		*depth = d;
	} else {
		d = *depth;
		if (d)
			*depth = d - 1;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->id = id;
	e->depth = d;
	e->cpu = bpf_get_smp_processor_id();
	e->entry = entry;
	__builtin_memcpy(e->clazz, m->clazz, sizeof(e->clazz));
	__builtin_memcpy(e->method, m->method, sizeof(e->method));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt")
int method_entry(struct pt_regs *ctx)
{
	return flow(ctx, true);
}

SEC("usdt")
int method_return(struct pt_regs *ctx)
{
	return flow(ctx, false);
}
