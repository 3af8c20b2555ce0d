// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The public API's test object (tests/kernel/test_api.py): programs whose
 * targets are set at run time, variants for prefer=, a perf event program,
 * uprobes, and the map shapes the histogram printers and per-CPU sums read. */
#include "corebpf.bpf.h"

const volatile __u32 targ_pid = 0;

__u64 raw_hits = 0;
__u64 variant_hits = 0;
__u64 samples = 0;
__u64 uprobe_hits = 0;
__u64 ret_hits = 0;
const volatile __s64 targ_len = -1;

struct pair {
	__u64 calls;
	__u64 odd;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct pair);
} per_cpu SEC(".maps");

struct hist {
	__u64 slots[HIST_SLOTS];
};

struct bcc_key {
	__u64 bucket;
	__u64 slot;
};

/* one histogram: a 1-entry array of slot arrays */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} dist_one SEC(".maps");

/* one histogram per key */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct hist);
} dist_keyed SEC(".maps");

/* bcc's BPF_HISTOGRAM(dist, struct {bucket; slot}) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct bcc_key);
	__type(value, __u64);
} dist_bcc SEC(".maps");

/* bcc's BPF_HISTOGRAM(dist): counts keyed by slot */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dist_int SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} batch SEC(".maps");

static __always_inline bool mine(void)
{
	return current_tgid() == targ_pid;
}

/* attached to sys_enter by set_attach_target() */
SEC("raw_tp")
int on_raw(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

/* two variants of one hook, for prefer= */
SEC("raw_tp/sys_enter")
int getppid__raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine())				/* every syscall: at least the getppid()s */
		__sync_fetch_and_add(&variant_hits, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int getppid__tp(void *ctx)
{
	static const struct pair zero;
	__u32 key = 0, slot = hist_slot(7);
	struct pair *p;
	__u64 *c;

	if (!mine())
		return 0;
	__sync_fetch_and_add(&variant_hits, 1);
	p = map_lookup_or_init(&per_cpu, &key, &zero);
	if (p) {
		p->calls++;
		p->odd += bpf_get_smp_processor_id() & 1;
	}
	c = bpf_map_lookup_elem(&dist_int, &slot);
	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	if (mine())
		__sync_fetch_and_add(&samples, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_call, const char *s)
{
	if (mine())
		__sync_fetch_and_add(&uprobe_hits, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, long ret)
{
	if (mine() && ret == targ_len)		/* this process calls strlen on other strings too */
		__sync_fetch_and_add(&ret_hits, 1);
	return 0;
}
