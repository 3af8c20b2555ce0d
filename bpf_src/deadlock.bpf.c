// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* deadlock: the mutex wait graph of one process.  Uprobes on the lock and
 * unlock functions (pthread_mutex_lock/unlock by default) keep each
 * thread's held mutexes; locking M while holding N adds the edge N => M
 * with both acquisition stacks.  Python looks for a cycle (a lock order
 * inversion).  Thread creation (for "Thread T created by ... here") comes
 * from sched_process_fork in the parent's context (bcc: a kretprobe on
 * clone). */
#include "corebpf.bpf.h"
#include "stacks.bpf.h"
#include "deadlock.h"

/* the most mutexes one thread holds at once that are tracked */
#define MAX_HELD 16

const volatile __u32 targ_tgid = 0;

struct held_mutex {
	__u64 mutex;
	__u64 stack_id;
	__u64 caller;
};

struct held_mutexes {
	struct held_mutex held[MAX_HELD];
};

/* sizes: Python sets them from -t, -e and -s before load */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);			/* tid */
	__type(value, struct held_mutexes);
} thread_to_held_mutexes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct edge_key);
	__type(value, struct edge_info);
} edges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);			/* child tid */
	__type(value, struct thread_created);
} thread_to_parent SEC(".maps");

/* pthread_create calls in progress: the creating thread's stack */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);			/* creating tid */
	__type(value, struct thread_created);
} creating SEC(".maps");

STACK_TRACE_MAP(stack_traces, 65536);

/* at a function's entry: its caller, the return address on the stack */
static __always_inline __u64 entry_caller(struct pt_regs *ctx)
{
	__u64 ret = 0;

	bpf_probe_read_user(&ret, sizeof(ret), (void *)PT_REGS_SP(ctx));
	return ret;
}

SEC("uprobe")
int BPF_KPROBE(mutex_acquire, void *mutex_addr)
{
	__u32 tid = current_tid();
	__u64 mutex = (__u64)mutex_addr, stack_id, caller;
	struct held_mutexes zero = {}, *h;
	bool added = false;
	int i;

	h = map_lookup_or_init(&thread_to_held_mutexes, &tid, &zero);
	if (!h)
		return 0;		/* map full */
	/* a mutex held already (a recursive mutex): no self edges */
	for (i = 0; i < MAX_HELD; i++)
		if (h->held[i].mutex == mutex)
			return 0;
	stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	caller = entry_caller(ctx);
	for (i = 0; i < MAX_HELD; i++) {
		struct edge_key k = {};
		struct edge_info e = {};

		if (!h->held[i].mutex) {
			if (!added) {
				h->held[i].mutex = mutex;
				h->held[i].stack_id = stack_id;
				h->held[i].caller = caller;
				added = true;
			}
			continue;
		}
		k.mutex1 = h->held[i].mutex;
		k.mutex2 = mutex;
		e.mutex1_stack_id = h->held[i].stack_id;
		e.mutex2_stack_id = stack_id;
		e.mutex1_caller = h->held[i].caller;
		e.mutex2_caller = caller;
		e.thread_pid = tid;
		bpf_get_current_comm(&e.comm, sizeof(e.comm));
		bpf_map_update_elem(&edges, &k, &e, BPF_ANY);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mutex_release, void *mutex_addr)
{
	__u32 tid = current_tid();
	__u64 mutex = (__u64)mutex_addr;
	struct held_mutexes *h = bpf_map_lookup_elem(&thread_to_held_mutexes, &tid);
	int i;

	if (!h)
		return 0;		/* its lock was not seen */
	for (i = 0; i < MAX_HELD; i++) {
		if (h->held[i].mutex == mutex) {
			h->held[i].mutex = 0;
			h->held[i].stack_id = 0;
		}
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(pthread_create_entry)
{
	__u32 tid = current_tid();
	struct thread_created t = {};

	t.parent_pid = tid;
	t.stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	t.caller = entry_caller(ctx);
	bpf_get_current_comm(&t.comm, sizeof(t.comm));
	bpf_map_update_elem(&creating, &tid, &t, BPF_ANY);
	return 0;
}

static __always_inline int thread_created(void *ctx, __u32 child)
{
	__u32 tid = current_tid();
	struct thread_created t = {}, *c;

	if (current_tgid() != targ_tgid)
		return 0;
	c = bpf_map_lookup_elem(&creating, &tid);
	if (c) {
		t = *c;
		bpf_map_delete_elem(&creating, &tid);
	} else {
		t.parent_pid = tid;
		t.stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
		bpf_get_current_comm(&t.comm, sizeof(t.comm));
	}
	bpf_map_update_elem(&thread_to_parent, &child, &t, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork__btf, struct task_struct *parent, struct task_struct *child)
{
	return thread_created(ctx, child->pid);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork__raw, struct task_struct *parent, struct task_struct *child)
{
	return thread_created(ctx, BPF_CORE_READ(child, pid));
}

SEC("tracepoint/sched/sched_process_fork")
int fork__tp(struct trace_event_raw_sched_process_fork *ctx)
{
	return thread_created(ctx, ctx->child_pid);
}
