// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ext4slower: ext4 reads, writes, opens and fsyncs slower than a threshold,
 * one record each (probes in ext4ops.bpf.h). */
#include "corebpf.bpf.h"
#include "ext4slower.h"
#include "ext4ops.bpf.h"

const volatile __u64 targ_min_us = 0;   /* report ops slower than this (0: all) */

EVENTS_RINGBUF(events, 1 << 22, struct fsop_event);

static __always_inline void fsop_done(__u32 op, __u64 start, __u64 end, __s64 ret,
				      __u64 offset, struct file *fp)
{
	struct fsop_event *e;
	const unsigned char *name;
	__u64 delta_us;

	if (end < start)
		return;
	delta_us = (end - start) / 1000;
	if (targ_min_us && delta_us <= targ_min_us)
		return;
	name = BPF_CORE_READ(fp, f_path.dentry, d_name.name);
	if (!name)
		return;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->ts_us = end / 1000;
	e->delta_us = delta_us;
	e->op = op;
	e->size = op <= FSOP_WRITE ? ret : 0;
	e->offset = op <= FSOP_WRITE ? offset : 0;
	e->pid = current_tgid();
	bpf_get_current_comm(e->task, sizeof(e->task));
	if (bpf_probe_read_kernel_str(e->file, sizeof(e->file), name) <= 1) {
		bpf_ringbuf_discard(e, 0);      /* bcc skips empty names */
		return;
	}
	bpf_ringbuf_submit(e, 0);
}
