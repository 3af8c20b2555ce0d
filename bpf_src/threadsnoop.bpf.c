// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* threadsnoop: every pthread_create() on the system, with its start routine.
 * A uprobe on the C library's (or libpthread's) pthread_create, attached
 * from Python to the file, so every process mapping it is traced (bcc's
 * hook; no kernel tracepoint knows the start routine). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "threadsnoop.h"

EVENTS_RINGBUF(events, 1 << 18, struct thread_event);

SEC("uprobe")
int BPF_KPROBE(pthread_create_entry, void *thread, void *attr, void *start_routine)
{
	struct thread_event *e = RINGBUF_RESERVE(events, sizeof(*e));

	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->ts = bpf_ktime_get_ns();
	e->start = (__u64)start_routine;
	e->pid = current_tgid();
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
