// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The library's test object: config in .rodata, every map kind the library
 * decodes, both event buffers, and program variants for probe selection. */
#include "corebpf.bpf.h"

struct rec {
	__u32 pid;
	__s32 neg;
	__u64 magic;
	char comm[16];
	char tag[16];
	__u8 raw[4];
	__u16 small[3];
	struct {
		__u32 a;
		__u32 b;
	} inner;
};

struct val {
	__u64 count;
	char comm[16];
};

struct skey {
	__u32 pid;
	__u32 slot;
};

const volatile __u32 targ_pid = 0;
const volatile __u64 magic = 0;
const volatile char tag[16] = "unset";
const volatile bool make_bad = false;

__u64 hits = 0;             /* .bss, read after load */
__u64 fork_hits = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, struct val);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, struct skey);
	__type(value, __u64);
} skeys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

EVENTS_RINGBUF(events, 1 << 16, struct rec);
EVENTS_PERFBUF(pevents, struct rec);

static struct val zero_val;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 pid = current_tgid(), zero = 0, i;
	struct val *v;
	struct rec *r, pr = {};
	__u64 *a;

	if (pid != targ_pid)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	v = map_lookup_or_init(&counts, &pid, &zero_val);
	if (v) {
		v->count++;
		bpf_get_current_comm(&v->comm, sizeof(v->comm));
	}
	for (i = 0; i < 3; i++) {
		struct skey k = { .pid = pid, .slot = i };
		__u64 one = i + 1;

		bpf_map_update_elem(&skeys, &k, &one, BPF_ANY);
	}
	a = bpf_map_lookup_elem(&arr, &zero);
	if (a)
		__sync_fetch_and_add(a, 1);
	a = bpf_map_lookup_elem(&pcpu, &zero);
	if (a)
		*a += 1;

	r = RINGBUF_RESERVE(events, sizeof(*r));
	if (r) {
		r->pid = pid;
		r->neg = -5;
		r->magic = magic;
		bpf_get_current_comm(&r->comm, sizeof(r->comm));
		for (i = 0; i < sizeof(r->tag); i++)
			r->tag[i] = tag[i];    /* volatile reads: no constant folding */
		r->raw[0] = 1; r->raw[1] = 0; r->raw[2] = 2; r->raw[3] = 0xff;
		r->small[0] = 7; r->small[1] = 8; r->small[2] = 9;
		r->inner.a = 11;
		r->inner.b = 12;
		bpf_ringbuf_submit(r, 0);
	}
	pr.pid = pid;
	pr.magic = magic + 1;
	bpf_get_current_comm(&pr.comm, sizeof(pr.comm));
	bpf_perf_event_output(ctx, &pevents, BPF_F_CURRENT_CPU, &pr, sizeof(pr));
	return 0;
}

/* Variants of one hook: the library picks tp_btf, then raw_tp, then the
 * classic tracepoint; fentry and kprobe come last. */
static __always_inline int count_fork(void)
{
	if (current_tgid() == targ_pid)
		__sync_fetch_and_add(&fork_hits, 1);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork__btf, struct task_struct *parent, struct task_struct *child)
{
	if (make_bad) {
		/* refused by the verifier: makes this variant fail to load */
		*(volatile __u64 *)0 = 1;
	}
	return count_fork();
}

SEC("tracepoint/sched/sched_process_fork")
int fork__tp(void *ctx)
{
	return count_fork();
}

SEC("fentry/kernel_clone")
int BPF_PROG(fork__fentry)
{
	return count_fork();
}

SEC("kprobe/kernel_clone")
int BPF_KPROBE(fork__kprobe)
{
	return count_fork();
}

/* For the error-path tests: a tracepoint that does not exist. */
SEC("tracepoint/corebpf_none/no_such_event")
int missing_tp(void *ctx)
{
	return 0;
}
