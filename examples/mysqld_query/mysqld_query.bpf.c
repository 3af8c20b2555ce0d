// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/mysqld_query.py: the text of every query a database
 * server starts, from its USDT probe query__start, whose first argument is
 * the query in MySQL (query__start(query, connectionid, database, user,
 * host)) and in PostgreSQL (query__start(query)) alike. */
#include "corebpf.bpf.h"
#include <bpf/usdt.bpf.h>

struct event {
	__u32 pid;
	__u64 ts;
	char comm[TASK_COMM_LEN];
	char query[128];
};

EVENTS_RINGBUF(events, 1 << 16, struct event);

SEC("usdt")
int do_trace(struct pt_regs *ctx)
{
	struct event *e;
	long addr;

	if (bpf_usdt_arg(ctx, 0, &addr))
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = current_tgid();
	e->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->query, sizeof(e->query), (void *)addr);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
