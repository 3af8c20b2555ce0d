// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ucalls: count (and with targ_latency, time) method calls of a language
 * runtime from its USDT entry/return probes, and optionally syscalls from
 * the raw_syscalls tracepoints, for one process. */
#include "corebpf.bpf.h"
#include "ulang.bpf.h"
#include "ucalls.h"

const volatile __u32 targ_tgid = 0;
const volatile bool targ_latency = false;
/* count calls at return: runtimes whose entry probe misses most calls
 * (Debian's Python 3.11 fires function__entry only for frames entered from C) */
const volatile bool targ_count_returns = false;

struct entry_key {
	__u64 id;		/* pid_tgid */
	struct method m;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct method);
	__type(value, struct call_info);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct entry_key);
	__type(value, __u64);
} entries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct call_info);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} sysentry SEC(".maps");

static __always_inline void add(void *map, const void *key, __u64 ns)
{
	struct call_info zero = {}, *v;

	v = map_lookup_or_init(map, key, &zero);
	if (v) {
		__sync_fetch_and_add(&v->num_calls, 1);
		if (ns)
			__sync_fetch_and_add(&v->total_ns, ns);
	}
}

SEC("usdt")
int method_entry(struct pt_regs *ctx)
{
	struct entry_key k = {};
	__u64 ts;

	if (!targ_latency && targ_count_returns)
		return 0;
	read_method(ctx, &k.m);
	if (!targ_latency) {
		add(&calls, &k.m, 0);
		return 0;
	}
	k.id = bpf_get_current_pid_tgid();
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&entries, &k, &ts, BPF_ANY);
	return 0;
}

SEC("usdt")
int method_return(struct pt_regs *ctx)
{
	struct entry_key k = {};
	__u64 *ts;

	if (!targ_latency && !targ_count_returns)
		return 0;
	read_method(ctx, &k.m);
	if (!targ_latency) {
		add(&calls, &k.m, 0);
		return 0;
	}
	k.id = bpf_get_current_pid_tgid();
	ts = bpf_map_lookup_elem(&entries, &k);
	if (!ts)
		return 0;
	add(&calls, &k.m, bpf_ktime_get_ns() - *ts);
	bpf_map_delete_elem(&entries, &k);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	__u32 nr;

	if ((id >> 32) != targ_tgid)
		return 0;
	if (!targ_latency) {
		nr = ctx->id;
		add(&syscalls, &nr, 0);
		return 0;
	}
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&sysentry, &id, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *ts;
	__u32 nr;

	if (!targ_latency || (id >> 32) != targ_tgid)
		return 0;
	ts = bpf_map_lookup_elem(&sysentry, &id);
	if (!ts)
		return 0;
	nr = ctx->id;
	add(&syscalls, &nr, bpf_ktime_get_ns() - *ts);
	bpf_map_delete_elem(&sysentry, &id);
	return 0;
}
