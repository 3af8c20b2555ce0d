// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* offcputime: time threads spend blocked, summed per stack in the kernel.
 *
 * At a context switch the thread leaving the CPU (prev) is stamped; when it
 * is switched back in, the time it was away is added to its entry in
 * `counts`.  Variants, best first: tp_btf, raw_tp and classic sched_switch
 * tracepoints run in prev's context, so its stacks are taken as it blocks;
 * the kprobe on finish_task_switch (bcc's hook) runs in the next thread's
 * context, so there the stacks are taken when the thread comes back (its
 * stack is still the one it blocked in). */
#include "corebpf.bpf.h"
#include "offcpu.bpf.h"
#include "ustack.bpf.h"
#include "offcputime.h"

#define STACK_LATER (-0x7fffffff)      /* start entry without stacks (kprobe) */

const volatile bool targ_dwarf = false;         /* --unwind dwarf */

struct start_t {
	__u64 ts;
	struct key_t key;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct start_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

EVENTS_PERFBUF(warn_events, struct warn_event);

/* --unwind dwarf: dumps as threads block, their off-CPU time as they return. */
EVENTS_RINGBUF(ustacks, 1 << 22, struct ustack_event);
EVENTS_RINGBUF(offcpu_ends, 1 << 18, struct offcpu_end);
USTACK_SCRATCH(ustack_scratch_map, struct ustack_event);

static __always_inline void dump_stack(void *ctx, struct key_t *key, __u64 ts, __u64 delta)
{
	struct ustack_event *e = ustack_scratch(&ustack_scratch_map);
	__u32 n;

	if (!e)
		return;
	e->pid = key->pid;
	e->tgid = key->tgid;
	e->kernel_stack_id = key->kernel_stack_id;
	e->ts = ts;
	e->delta_us = delta;
	__builtin_memcpy(e->name, key->name, sizeof(e->name));
	n = ustack_capture(&e->ustack);
	if (n > USTACK_MAX)
		n = USTACK_MAX;
	RINGBUF_OUTPUT(ustacks, e, offsetof(struct ustack_event, ustack.data) + n);
}

static __always_inline void dump_end(struct key_t *key, __u64 ts, __u64 delta)
{
	struct offcpu_end *x = RINGBUF_RESERVE(offcpu_ends, sizeof(*x));

	if (!x)
		return;
	x->pid = key->pid;
	x->tgid = key->tgid;
	x->ts = ts;
	x->delta_us = delta;
	bpf_ringbuf_submit(x, 0);
}

/* Stack ids of the current thread. */
static __always_inline void current_stacks(void *ctx, struct key_t *key)
{
	current_stack_ids(ctx, &key->user_stack_id, &key->kernel_stack_id);
}

/* prev is leaving the CPU: stamp it (with its stacks if it is current). */
static __always_inline void switch_out(void *ctx, struct task_struct *prev, bool is_current)
{
	__u32 pid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid), k;
	struct start_t s;

	if (!thread_wanted(prev, pid, tgid))
		return;
	__builtin_memset(&s, 0, sizeof(s));
	s.key.pid = pid;
	s.key.tgid = tgid;
	if (is_current) {
		current_stacks(ctx, &s.key);
		bpf_get_current_comm(&s.key.name, sizeof(s.key.name));
	} else {
		s.key.user_stack_id = STACK_LATER;
	}
	s.ts = bpf_ktime_get_ns();
	k = offcpu_key(pid);
	bpf_map_update_elem(&start, &k, &s, BPF_ANY);
	if (targ_dwarf && is_current && targ_user_stacks)
		dump_stack(ctx, &s.key, s.ts, 0);
}

/* Thread `pid` comes back (is_current: it is the current thread). */
static __always_inline void switch_in(void *ctx, __u32 pid, bool is_current)
{
	__u32 k = offcpu_key(pid);
	struct start_t *s = bpf_map_lookup_elem(&start, &k);
	struct key_t key;
	__u64 now, delta, ts, *val, zero = 0;

	if (!s)
		return;
	now = bpf_ktime_get_ns();
	key = s->key;
	if (s->ts > now) {
		struct warn_event w = { .pid = key.pid, .tgid = key.tgid,
					.t_start = s->ts, .t_end = now };

		bpf_map_delete_elem(&start, &k);
		bpf_perf_event_output(ctx, &warn_events, BPF_F_CURRENT_CPU, &w, sizeof(w));
		return;
	}
	delta = (now - s->ts) / 1000;
	ts = s->ts;
	bpf_map_delete_elem(&start, &k);
	if (!block_time_ok(delta)) {
		if (targ_dwarf && key.user_stack_id != STACK_LATER)
			dump_end(&key, ts, 0);       /* Python drops the dump */
		return;
	}
	if (key.user_stack_id == STACK_LATER && is_current) {
		current_stacks(ctx, &key);
		bpf_get_current_comm(&key.name, sizeof(key.name));
		if (targ_dwarf) {
			dump_stack(ctx, &key, ts, delta ? delta : 1);
			return;
		}
	}
	if (targ_dwarf) {
		dump_end(&key, ts, delta);
		return;
	}
	val = map_lookup_or_init(&counts, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, delta);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch__btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev, true);
	switch_in(ctx, next->pid, false);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch__raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev, true);
	switch_in(ctx, BPF_CORE_READ(next, pid), false);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int sched_switch__tp(struct trace_event_raw_sched_switch *ctx)
{
	/* the tracepoint runs in prev's context: prev is the current task */
	switch_out(ctx, (struct task_struct *)bpf_get_current_task(), true);
	switch_in(ctx, ctx->next_pid, false);
	return 0;
}

/* bcc's hook: finish_task_switch(prev) runs once the next thread is current.
 * Attached by Python to the kernel's name for it (finish_task_switch or a
 * compiler clone such as finish_task_switch.isra.0). */
SEC("kprobe")
int BPF_KPROBE(finish_task_switch__kprobe, struct task_struct *prev)
{
	switch_out(ctx, prev, false);
	switch_in(ctx, current_tid(), true);
	return 0;
}
