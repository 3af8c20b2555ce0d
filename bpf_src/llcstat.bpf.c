// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* llcstat: last-level cache references and misses per process (or thread)
 * and CPU, from sampled hardware cache events: each sample adds the
 * sampling period.  Needs a hardware PMU; Python opens the events. */
#include "corebpf.bpf.h"
#include "llcstat.h"

const volatile bool targ_per_thread = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct llc_key);
	__type(value, struct llc_counts);
} counts SEC(".maps");

static struct llc_counts zero;

static __always_inline struct llc_counts *entry(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct llc_key key = {};

	key.cpu = bpf_get_smp_processor_id();
	key.pid = id >> 32;
	key.tid = targ_per_thread ? (__u32)id : key.pid;
	bpf_get_current_comm(&key.name, sizeof(key.name));
	return map_lookup_or_init(&counts, &key, &zero);
}

SEC("perf_event")
int on_cache_miss(struct bpf_perf_event_data *ctx)
{
	struct llc_counts *c = entry();

	if (c)
		__sync_fetch_and_add(&c->miss, ctx->sample_period);
	return 0;
}

SEC("perf_event")
int on_cache_ref(struct bpf_perf_event_data *ctx)
{
	struct llc_counts *c = entry();

	if (c)
		__sync_fetch_and_add(&c->ref, ctx->sample_period);
	return 0;
}
