// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/hello_perf_output.py: a record per clone() through a
 * perf event array, decoded in Python from this object's BTF. */
#include "corebpf.bpf.h"

struct data_t {
	__u32 pid;
	__u64 ts;
	char comm[TASK_COMM_LEN];
};

/* bcc's BPF_PERF_OUTPUT(events), with the record type exported for Python */
EVENTS_PERFBUF(events, struct data_t);

SEC("tracepoint/syscalls/sys_enter_clone")
int hello(void *ctx)
{
	struct data_t data = {};

	data.pid = bpf_get_current_pid_tgid();
	data.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(&data.comm, sizeof(data.comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data));
	return 0;
}
