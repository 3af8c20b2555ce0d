// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/nodejs_http_server.py: the path of every request a
 * Node.js HTTP server handles, from its USDT probe
 * node:http__server__request(req, conn, remote, port, method, url, fd).
 * bcc's bpf_usdt_readarg(6, ...) counts from 1; libbpf's bpf_usdt_arg()
 * from 0.  Records go through a ring buffer instead of trace_pipe. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>

struct event {
	__u32 pid;
	__u64 ts;
	char comm[TASK_COMM_LEN];
	char path[128];
};

EVENTS_RINGBUF(events, 1 << 16, struct event);

SEC("usdt")
int do_trace(struct pt_regs *ctx)
{
	struct event *e;
	long addr;

	if (bpf_usdt_arg(ctx, 5, &addr))
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = current_tgid();
	e->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)addr);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
