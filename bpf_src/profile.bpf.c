// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* profile: sample stacks on a timer (perf_event cpu-clock, or cycles) and
 * count them in the kernel; Python symbolizes the unique stacks at the end. */
#include "corebpf.bpf.h"
#include "stacks.bpf.h"
#include "ustack.bpf.h"
#include "containers.bpf.h"
#include "profile.h"

const volatile bool targ_filter_tgid = false;   /* -p: tgids in `tgids` */
const volatile bool targ_filter_tid = false;    /* -L: tids in `tids` */
const volatile bool targ_include_idle = false;  /* -I */
const volatile bool targ_user_stacks = true;    /* false with -K */
const volatile bool targ_kernel_stacks = true;  /* false with -U */
const volatile bool targ_dwarf = false;         /* --unwind dwarf: dump user stacks */

STACK_TRACE_MAP(stack_traces, 16384);
ID_SET_MAP(tgids, 1024);
ID_SET_MAP(tids, 1024);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

/* Samples dropped because `counts` was full (--hash-storage-size). */
__u64 hash_full = 0;

/* --unwind dwarf: each sample goes to Python with its user stack dump. */
EVENTS_RINGBUF(ustacks, 1 << 22, struct ustack_event);
USTACK_SCRATCH(ustack_scratch_map, struct ustack_event);

static __always_inline void dump_sample(struct bpf_perf_event_data *ctx, __u64 id)
{
	struct ustack_event *e = ustack_scratch(&ustack_scratch_map);
	__u32 n;

	if (!e)
		return;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(&e->name, sizeof(e->name));
	e->kernel_stack_id = targ_kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	e->kernel_ip = e->kernel_stack_id >= 0 ? PT_REGS_IP(&ctx->regs) : 0;
	n = targ_user_stacks ? ustack_capture(&e->ustack) : 0;
	if (n > USTACK_MAX)
		n = USTACK_MAX;
	RINGBUF_OUTPUT(ustacks, e, offsetof(struct ustack_event, ustack.data) + n);
}

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), one = 1, *val;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct key_t key;

	if (!targ_include_idle && tid == 0)
		return 0;
	if (targ_filter_tgid && !id_in_set(&tgids, tgid))
		return 0;
	if (targ_filter_tid && !id_in_set(&tids, tid))
		return 0;
	if (!container_ok())
		return 0;

	if (targ_dwarf) {
		dump_sample(ctx, id);
		return 0;
	}
	__builtin_memset(&key, 0, sizeof(key));
	key.pid = tgid;
	bpf_get_current_comm(&key.name, sizeof(key.name));
	key.user_stack_id = targ_user_stacks ?
		bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	key.kernel_stack_id = targ_kernel_stacks ?
		bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	/* A kernel stack exists only if the sample hit kernel mode. */
	if (key.kernel_stack_id >= 0)
		key.kernel_ip = PT_REGS_IP(&ctx->regs);

	val = bpf_map_lookup_elem(&counts, &key);
	if (val) {
		__sync_fetch_and_add(val, 1);
		return 0;
	}
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST)) {
		val = bpf_map_lookup_elem(&counts, &key);   /* lost a race */
		if (val)
			__sync_fetch_and_add(val, 1);
		else
			__sync_fetch_and_add(&hash_full, 1);
	}
	return 0;
}
