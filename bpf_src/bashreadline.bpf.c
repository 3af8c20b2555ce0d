// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bashreadline: uretprobe on readline() (or readline_internal_teardown())
 * in bash or a readline library; only tasks named exactly "bash" count, as
 * in bcc, so other readline users (python, psql) stay out. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "bashreadline.h"

EVENTS_RINGBUF(events, 1 << 16, struct line_event);

SEC("uretprobe")
int BPF_KRETPROBE(readline_return, const void *ret)
{
	char comm[TASK_COMM_LEN];
	struct line_event *e;

	if (!ret)
		return 0;
	bpf_get_current_comm(&comm, sizeof(comm));
	if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' ||
	    comm[4] != 0)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->pid = current_tgid();
	bpf_probe_read_user_str(e->line, sizeof(e->line), ret);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
