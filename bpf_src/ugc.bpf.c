// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ugc: one event per garbage collection of a language runtime, from a pair
 * of USDT probes (begin/end).  The attach cookie says which pair fired;
 * targ_kind[pair] says what its arguments hold. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "cgroupid.bpf.h"
#include "ugc.h"

const volatile __u32 targ_kind[2] = {};
const volatile __u64 targ_min_ns = 0;

struct gc_key {
	__u64 id;
	__u64 probe;
	__u64 sub;	/* JVM: the memory pool (its name pointer); pools nest in one GC */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct gc_key);
	__type(value, struct gc_event);
} starts SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct gc_event);

static __always_inline long arg(struct pt_regs *ctx, int i)
{
	long v = 0;

	bpf_usdt_arg(ctx, i, &v);
	return v;
}

static __always_inline void read_counted(struct pt_regs *ctx, int p, int l, char *buf)
{
	long ptr = arg(ctx, p), len = arg(ctx, l);

	if (!ptr || len <= 0)
		return;
	if (len > 31)
		len = 31;
	bpf_probe_read_user(buf, (__u32)len, (void *)ptr);
}

SEC("usdt")
int gc_begin(struct pt_regs *ctx)
{
	struct gc_key k = { .id = bpf_get_current_pid_tgid(), .probe = bpf_usdt_cookie(ctx) & 1 };
	struct gc_event e = {};
	__u32 kind = targ_kind[k.probe & 1];

	if (kind == GC_JAVA_POOL)
		k.sub = arg(ctx, 2);

	e.probe = k.probe;
	e.elapsed_ns = bpf_ktime_get_ns();	/* start time until the end probe */
	if (kind == GC_PYTHON) {
		e.field1 = arg(ctx, 0);
	} else if (kind == GC_JAVA_POOL) {
		e.field1 = arg(ctx, 5);
		e.field2 = arg(ctx, 7);
	}
	bpf_map_update_elem(&starts, &k, &e, BPF_ANY);
	return 0;
}

SEC("usdt")
int gc_end(struct pt_regs *ctx)
{
	struct gc_key k = { .id = bpf_get_current_pid_tgid(), .probe = bpf_usdt_cookie(ctx) & 1 };
	__u32 kind = targ_kind[k.probe & 1];
	struct gc_event *s, *e;
	__u64 elapsed;

	if (kind == GC_JAVA_POOL)
		k.sub = arg(ctx, 2);

	s = bpf_map_lookup_elem(&starts, &k);
	if (!s)
		return 0;
	elapsed = bpf_ktime_get_ns() - s->elapsed_ns;
	if (elapsed < targ_min_ns)
		goto out;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto out;
	__builtin_memcpy(e, s, sizeof(*e));
	e->elapsed_ns = elapsed;
	e->cgroup = event_cgroup_id();
	if (kind == GC_PYTHON) {
		e->field2 = arg(ctx, 0);
	} else if (kind == GC_JAVA_POOL) {
		e->field3 = arg(ctx, 5);
		e->field4 = arg(ctx, 7);
		read_counted(ctx, 0, 1, e->string1);
		read_counted(ctx, 2, 3, e->string2);
	} else if (kind == GC_NODE) {
		e->field1 = arg(ctx, 0);
	}
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&starts, &k);
	return 0;
}
