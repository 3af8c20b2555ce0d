// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* syscount: count syscalls (and their time) by number or by process, in
 * the kernel.  Variants: tp_btf (cheapest), raw_tp, classic raw_syscalls
 * tracepoints.  The enter hook is needed only for latency; Python turns
 * it off otherwise. */
#include "corebpf.bpf.h"
#include "syscount.h"
#include "cgroupid.bpf.h"
#include "scnr.bpf.h"
#include "scchain.bpf.h"

const volatile __s32 targ_tgid = 0;
const volatile __s32 targ_tid = 0;
const volatile __s32 targ_ppid = 0;     /* only children of this process */
const volatile bool targ_failed = false;
const volatile __s32 targ_errno = 0;
const volatile bool targ_latency = false;
const volatile bool targ_by_process = false;
const volatile __s32 targ_syscall = -1;
const volatile bool targ_metrics = false;   /* the exporter's mode: count errors too */
const volatile bool targ_by_comm = false;   /* the exporter: also count per comm */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct sc_val);
} data SEC(".maps");

/* The default mode (by syscall number): per-CPU counts indexed by the
 * number, summed by Python when it reads them.  No hash lookup and no
 * atomic adds on values shared by every CPU: this runs on every syscall.
 * Numbers from SC_NRS up (none on x86_64 or arm64 today) go to `data`. */
#define SC_NRS 512

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_NRS);
	__type(key, __u32);
	__type(value, struct sc_val);
} nrs SEC(".maps");

/* targ_by_comm: counts per task name (allocated as used) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct comm_key);
	__type(value, struct sc_val);
} comms SEC(".maps");

/* targ_containers (the exporter): calls (idx 0) and errors (1) per task cgroup */
CGROUP_COUNTS(cgroup_calls);

static __always_inline bool wanted(__u64 id, long nr)
{
	if (targ_syscall >= 0 && nr != targ_syscall)
		return false;
	if (targ_tgid && (id >> 32) != targ_tgid)
		return false;
	if (targ_tid && (__u32)id != targ_tid)
		return false;
	if (targ_ppid) {
		struct task_struct *task = current_task();

		if (BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
			return false;
	}
	return true;
}

static __always_inline int sys_enter(long nr)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	__u32 tid = (__u32)id;

	if (!wanted(id, nr))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int sys_exit(long nr, long ret)
{
	__u64 id = 0, *tsp, delta = 0;
	__u32 tid, key;
	static const struct sc_val zero;
	struct sc_val *val;

	/* The default mode needs no task id: no helper call for it on every
	 * syscall (the constants are fixed at load, the branch with them). */
	if (targ_tgid || targ_tid || targ_latency || targ_by_process)
		id = bpf_get_current_pid_tgid();
	tid = (__u32)id;
	if (nr < 0 || !wanted(id, nr))
		return 0;
	if (targ_failed && ret >= 0)
		return 0;
	if (targ_errno && ret != -targ_errno)
		return 0;
	if (targ_latency) {
		tsp = bpf_map_lookup_elem(&start, &tid);
		if (!tsp)
			return 0;
		delta = bpf_ktime_get_ns() - *tsp;
		bpf_map_delete_elem(&start, &tid);
	}
	key = targ_by_process ? id >> 32 : (__u32)nr;
	if (!targ_by_process && key < SC_NRS) {
		val = bpf_map_lookup_elem(&nrs, &key);
		if (!val)
			return 0;
		val->count++;
		if (targ_metrics && ret < 0)
			val->errors++;
		if (targ_latency)
			val->total_ns += delta;
	} else {
		val = map_lookup_or_init(&data, &key, &zero);
		if (!val)
			return 0;
		__sync_fetch_and_add(&val->count, 1);
		if (targ_metrics && ret < 0)
			__sync_fetch_and_add(&val->errors, 1);
		if (targ_latency)
			__sync_fetch_and_add(&val->total_ns, delta);
	}
	if (targ_containers) {
		__u64 cg = task_cgroup_id();

		cgroup_count(&cgroup_calls, cg, 0);
		if (ret < 0)
			cgroup_count(&cgroup_calls, cg, 1);
	}
	if (targ_by_comm) {
		struct comm_key ck = {};

		bpf_get_current_comm(ck.comm, sizeof(ck.comm));
		val = map_lookup_or_init(&comms, &ck, &zero);
		if (!val)
			return 0;
		__sync_fetch_and_add(&val->count, 1);
		if (ret < 0)
			__sync_fetch_and_add(&val->errors, 1);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter__btf, struct pt_regs *regs, long nr)
{
	sys_enter(nr);
	return SC_NEXT(enter, btf);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit__btf, struct pt_regs *regs, long ret)
{
	sys_exit(sc_btf_regs_nr(regs), ret);   /* a direct load */
	return SC_NEXT(exit, btf);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(enter__raw, struct pt_regs *regs, long nr)
{
	sys_enter(nr);
	return SC_NEXT(enter, raw);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(exit__raw, struct pt_regs *regs, long ret)
{
	sys_exit(sc_regs_nr(regs), ret);
	return SC_NEXT(exit, raw);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return sys_enter(ctx->id);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return sys_exit(ctx->id, ctx->ret);
}
