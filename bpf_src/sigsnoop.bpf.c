// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sigsnoop: signals as the kernel generates them (signal:signal_generate,
 * whose comm field is the target's), or, in kill mode, the kill(), tkill()
 * and tgkill() syscalls from entry to exit; there signal_generate, fired
 * inside the syscall, supplies the target's comm. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "signals.bpf.h"
#include "sigsnoop.h"

const volatile __s32 targ_tgid = 0;     /* sender filter */
const volatile bool targ_failed = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct sig_event);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct sig_event);

SEC("tracepoint/signal/signal_generate")
int sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct sig_event *e;
	__u32 tgid = current_tgid();
	int ret = ctx->errno, sig = ctx->sig;

	if (targ_failed && ret == 0)
		return 0;
	if (!signal_wanted(sig))
		return 0;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->pid = tgid;
	e->tpid = ctx->pid;
	e->sig = sig;
	e->ret = ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int kill_enter(__s32 tpid, int sig)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct sig_event e = {};

	if (!signal_wanted(sig))
		return 0;
	e.pid = id >> 32;
	if (targ_tgid && e.pid != targ_tgid)
		return 0;
	e.tpid = tpid;
	e.sig = sig;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bpf_map_update_elem(&start, &tid, &e, BPF_ANY);
	return 0;
}

static __always_inline int kill_return(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sig_event *e;

	e = bpf_map_lookup_elem(&start, &tid);
	if (!e)
		return 0;
	e->ret = ret;
	if (!targ_failed || ret < 0)
		RINGBUF_OUTPUT(events, e, sizeof(*e));
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* In kill mode: the signal this thread's kill call is generating. */
SEC("tracepoint/signal/signal_generate")
int kill_target(struct trace_event_raw_signal_generate *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sig_event *e;

	e = bpf_map_lookup_elem(&start, &tid);
	if (e && !e->tcomm[0])
		bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_entry(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter((__s32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return kill_return(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int tkill_entry(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter((__s32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int tkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return kill_return(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int tgkill_entry(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter((__s32)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int tgkill_exit(struct trace_event_raw_sys_exit *ctx)
{
	return kill_return(ctx->ret);
}
