// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/stacksnoop.py: the kernel stack at every call of a
 * kernel function.  bcc attaches a kprobe to the function named on the
 * command line; here the function is set at run time on two variants,
 * fentry and kprobe (Program.set_attach_target), and the library loads the
 * one this kernel can serve.  A tracepoint can be traced instead (t:cat:name),
 * for kernels with neither. */
#include "corebpf.bpf.h"

#define MAX_STACK_DEPTH 127

struct data_t {
	__s64 stack_id;
	__u32 pid;
	__u32 cpu;
	char comm[TASK_COMM_LEN];
};

const volatile __u32 targ_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct data_t);

static __always_inline int trace_stack(void *ctx)
{
	__u32 pid = current_tgid();
	struct data_t *data;

	if (targ_pid && pid != targ_pid)
		return 0;
	data = RINGBUF_RESERVE(events, sizeof(*data));
	if (!data)
		return 0;
	data->stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	data->pid = pid;
	data->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(data->comm, sizeof(data->comm));
	bpf_ringbuf_submit(data, 0);
	return 0;
}

SEC("fentry")
int BPF_PROG(trace__fentry)
{
	return trace_stack(ctx);
}

SEC("kprobe")
int BPF_KPROBE(trace__kprobe)
{
	return trace_stack(ctx);
}

SEC("tracepoint")
int trace_tp(void *ctx)
{
	return trace_stack(ctx);
}
