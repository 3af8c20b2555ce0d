// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* killsnoop: kill(2) calls from the syscall tracepoints.  The arguments are
 * kept per thread at entry; the record is emitted at exit with the result. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "signals.bpf.h"
#include "killsnoop.h"

const volatile __s32 targ_tgid = 0;     /* sender filter */
const volatile __s32 targ_tpid = 0;     /* target filter (0: any) */
const volatile bool targ_failed = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct kill_event);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct kill_event);

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct kill_event e = {};

	e.pid = id >> 32;
	e.cgroup = event_cgroup_id();
	e.tpid = (__s32)ctx->args[0];
	e.sig = (__s32)ctx->args[1];
	if (targ_tgid && e.pid != targ_tgid)
		return 0;
	if (targ_tpid && e.tpid != targ_tpid)
		return 0;
	if (!signal_wanted(e.sig))
		return 0;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bpf_map_update_elem(&start, &tid, &e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kill_event *e;

	e = bpf_map_lookup_elem(&start, &tid);
	if (!e)
		return 0;
	e->ret = ctx->ret;
	if (!targ_failed || e->ret < 0)
		RINGBUF_OUTPUT(events, e, sizeof(*e));
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
