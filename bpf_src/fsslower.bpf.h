/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sink of the *slower tools: one record per operation slower than
 * targ_min_us.  Include after the probes (ext4ops.bpf.h, fsfuncs.bpf.h). */
#ifndef __FSSLOWER_BPF_H
#define __FSSLOWER_BPF_H

#include "cgroupid.bpf.h"

const volatile __u64 targ_min_us = 0;   /* report ops slower than this (0: all) */
const volatile bool targ_fsync_range = false;   /* fsync size: its byte range (libbpf's) */

EVENTS_RINGBUF(events, 1 << 22, struct fsop_event);

static __always_inline void fsop_done(const struct fsop_start *s, __u64 end, __s64 ret)
{
	struct dentry *dentry = s->dentry;      /* (no CO-RE access through s) */
	struct fsop_event *e;
	const unsigned char *name;
	__u64 delta_us;
	bool sized;

	if (end < s->ts)
		return;
	delta_us = (end - s->ts) / 1000;
	if (targ_min_us && delta_us <= targ_min_us)
		return;
	name = BPF_CORE_READ(dentry, d_name.name);
	if (!name)
		return;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	sized = s->op <= FSOP_WRITE || s->op == FSOP_COMMIT;
	e->ts_us = end / 1000;
	e->delta_us = delta_us;
	e->op = s->op;
	if (s->op == FSOP_COMMIT || (s->op == FSOP_FSYNC && targ_fsync_range))
		e->size = s->count;
	else
		e->size = sized ? ret : 0;
	e->offset = sized ? s->offset : 0;
	e->pid = current_tgid();
	e->cgroup = event_cgroup_id();
	bpf_get_current_comm(e->task, sizeof(e->task));
	if (bpf_probe_read_kernel_str(e->file, sizeof(e->file), name) <= 1) {
		bpf_ringbuf_discard(e, 0);      /* bcc skips empty names */
		return;
	}
	bpf_ringbuf_submit(e, 0);
}

#endif
