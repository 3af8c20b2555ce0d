// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uthreads: thread creation in one process.  bcc uses glibc's USDT
 * libpthread:pthread_start, which Debian's glibc does not carry; here a
 * uprobe on pthread_create() remembers the start routine per calling thread
 * and task:task_newtask (in the creating thread, CLONE_THREAD set) supplies
 * the new thread's TID.  Java: hotspot thread__start/thread__stop. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>
#include "cgroupid.bpf.h"
#include "uthreads.h"

#define CLONE_THREAD 0x00010000

const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} routines SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct thread_event);

SEC("uprobe")
int BPF_KPROBE(pthread_create_entry, void *thread, void *attr, void *start_routine)
{
	__u32 tid = current_tid();
	__u64 fn = (__u64)start_routine;

	bpf_map_update_elem(&routines, &tid, &fn, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(pthread_create_return)
{
	__u32 tid = current_tid();

	bpf_map_delete_elem(&routines, &tid);
	return 0;
}

SEC("tracepoint/task/task_newtask")
int newtask(struct trace_event_raw_task_newtask *ctx)
{
	__u32 tid = current_tid();
	struct thread_event *e;
	__u64 *fn;

	if (current_tgid() != targ_tgid || !(ctx->clone_flags & CLONE_THREAD))
		return 0;
	fn = bpf_map_lookup_elem(&routines, &tid);
	if (!fn)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->runtime_id = *fn;
	e->native_id = ctx->pid;
	__builtin_memcpy(e->type, "pthread", 8);
	e->name[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* hotspot thread__start/stop(name, name length, java id, native id, daemon);
 * cookie 0 = start, 1 = stop */
SEC("usdt")
int java_thread(struct pt_regs *ctx)
{
	struct thread_event *e;
	long name = 0, len = 0, id = 0, native = 0;

	bpf_usdt_arg(ctx, 0, &name);
	bpf_usdt_arg(ctx, 1, &len);
	bpf_usdt_arg(ctx, 2, &id);
	bpf_usdt_arg(ctx, 3, &native);
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->runtime_id = id;
	e->native_id = native;
	if (bpf_usdt_cookie(ctx))
		__builtin_memcpy(e->type, "stop", 5);
	else
		__builtin_memcpy(e->type, "start", 6);
	__builtin_memset(e->name, 0, sizeof(e->name));
	if (len > (long)sizeof(e->name) - 1)
		len = sizeof(e->name) - 1;
	if (name && len > 0)
		bpf_probe_read_user(e->name, (__u32)len, (void *)name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
