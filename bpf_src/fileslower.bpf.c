// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* fileslower: synchronous reads and writes of files slower than a threshold.
 * Variant "tp": the read/write syscall families (fsops.bpf.h, any file
 * system; regular files only unless targ_all_files).  Variants "fentry" and
 * "kprobe" (bcc's): vfs_read and vfs_write. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#define FSOPS_SYSNR_PROGRAMS    /* variants "btf" and "raw": through raw_syscalls */
#include "fsops.bpf.h"
#include "fileslower.h"

const volatile __u64 targ_min_us = 0;   /* report calls that took at least this */

EVENTS_RINGBUF(events, 1 << 22, struct slow_event);

static __always_inline void fsop_done(const struct fsop_start *s, __u64 end, __s64 ret)
{
	struct dentry *dentry = s->dentry;
	struct slow_event *e;
	__u64 delta_us;

	if (end < s->ts || s->op > FSOP_WRITE)
		return;
	delta_us = (end - s->ts) / 1000;
	if (delta_us < targ_min_us)
		return;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->cgroup = event_cgroup_id();
	e->delta_us = delta_us;
	e->count = s->count;
	e->tid = current_tid();
	e->op = s->op;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->name_len = dentry_name(dentry, e->name, sizeof(e->name));
	if (!e->name_len) {
		bpf_ringbuf_discard(e, 0);      /* I/O lacking a file name (bcc skips it) */
		return;
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int vfs_enter(__u32 op, struct file *file, __u64 count)
{
	return fsop_func_enter(&fsop_start, op, DENTRY(file), 0, count, true);
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(read_enter__kprobe, struct file *file, char *buf, size_t count)
{
	return vfs_enter(FSOP_READ, file, count);
}

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(read_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe/vfs_write")
int BPF_KPROBE(write_enter__kprobe, struct file *file, const char *buf, size_t count)
{
	return vfs_enter(FSOP_WRITE, file, count);
}

SEC("kretprobe/vfs_write")
int BPF_KRETPROBE(write_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("fentry/vfs_read")
int BPF_PROG(read_enter__fentry, struct file *file, char *buf, size_t count)
{
	return vfs_enter(FSOP_READ, file, count);
}

SEC("fexit/vfs_read")
int BPF_PROG(read_exit__fentry)
{
	return fsop_func_return(&fsop_start, 0);
}

SEC("fentry/vfs_write")
int BPF_PROG(write_enter__fentry, struct file *file, const char *buf, size_t count)
{
	return vfs_enter(FSOP_WRITE, file, count);
}

SEC("fexit/vfs_write")
int BPF_PROG(write_exit__fentry)
{
	return fsop_func_return(&fsop_start, 0);
}
