// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* capable: security capability checks.  Variants, best first: the
 * capability:cap_capable tracepoint (recent kernels; tp_btf, then classic),
 * fired as cap_capable() returns, which has the result but not the audit
 * options, and a kprobe on cap_capable() which has the options. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "stacks.bpf.h"
#include "containers.bpf.h"
#include "capable.h"

#define CAP_OPT_NOAUDIT (1 << 1)
#define CAP_OPT_INSETID (1 << 2)

const volatile __u32 targ_tid = 0;       /* -p: bcc compares the thread id */
const volatile __u32 targ_self = 0;      /* the tool's own process, never shown */
const volatile bool targ_audit_only = false;
const volatile bool targ_unique = false;
const volatile bool targ_kernel_stack = false;   /* -K */
const volatile bool targ_user_stack = false;     /* -U */

extern int LINUX_KERNEL_VERSION __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct cap_key);
	__type(value, __u8);
} seen SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct cap_event);

/* bcc's size; Python shrinks it to one entry without -K/-U */
STACK_TRACE_MAP(stacks, 2048);

static __always_inline int trace_cap(void *ctx, int cap, int audit, int insetid, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct cap_event *e;
	int kstack, ustack;

	if (targ_tid && tid != targ_tid)
		return 0;
	if (tgid == targ_self)
		return 0;
	if (targ_audit_only && audit == 0)
		return 0;
	if (!container_ok())
		return 0;
	kstack = targ_kernel_stack ? bpf_get_stackid(ctx, &stacks, 0) : -1;
	ustack = targ_user_stack ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;
	if (targ_unique) {
		struct cap_key key = { .tgid = tgid, .cap = cap,
				       .kernel_stack_id = kstack, .user_stack_id = ustack };
		__u8 one = 1;

		if (bpf_map_lookup_elem(&seen, &key))
			return 0;
		bpf_map_update_elem(&seen, &key, &one, BPF_ANY);
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->tgid = tgid;
	e->tid = tid;
	e->uid = current_uid();
	e->cap = cap;
	e->audit = audit;
	e->insetid = insetid;
	e->ret = ret;
	e->kernel_stack_id = kstack;
	e->user_stack_id = ustack;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(cap__btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	return trace_cap(ctx, cap, -1, -1, ret);
}

SEC("tracepoint/capability/cap_capable")
int cap__tp(struct trace_event_raw_cap_capable *ctx)
{
	return trace_cap(ctx, ctx->cap, -1, -1, ctx->ret);
}

/* Before Linux 5.1 the fourth argument was `int audit`, not option bits. */
SEC("kprobe/cap_capable")
int BPF_KPROBE(cap__kprobe, const struct cred *cred, struct user_namespace *ns, int cap,
	       unsigned int opts)
{
	if (LINUX_KERNEL_VERSION < KERNEL_VERSION(5, 1, 0))
		return trace_cap(ctx, cap, opts != 0, -1, 0);
	return trace_cap(ctx, cap, !(opts & CAP_OPT_NOAUDIT), !!(opts & CAP_OPT_INSETID), 0);
}
