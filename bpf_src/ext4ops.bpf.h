/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ext4 reads, writes, opens and fsyncs for ext4slower and ext4dist.
 *
 * Variant "tp" (kernels without kprobes/fentry): syscall level, filtered to
 * ext4 files (fsops.bpf.h), plus the exact ext4_sync_file_enter/exit
 * tracepoints for fsync.  Variant "kprobe" (as bcc): entry and return of
 * ext4_file_read_iter, ext4_file_write_iter, ext4_file_open, ext4_sync_file.
 * Both end in the including file's fsop_done(). */
#ifndef __EXT4OPS_BPF_H
#define __EXT4OPS_BPF_H

#define EXT4_SUPER_MAGIC 0xEF53
#define FSOPS_MAGIC EXT4_SUPER_MAGIC
#include "fsops.bpf.h"

/* fsync runs inside write() for O_SYNC files: its own map, so the two nest. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct fsop_start);
} sync_start SEC(".maps");

static __always_inline int ext4_enter(void *map, __u32 op, struct file *fp, __u64 offset)
{
	struct fsop_start s = {};
	__u32 tid = current_tid();

	if (!fp || !fsop_wanted_task())
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.fp = fp;
	s.op = op;
	s.offset = offset;
	bpf_map_update_elem(map, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int ext4_return(void *map, long ret)
{
	__u32 tid = current_tid();
	struct fsop_start *sp, s;

	sp = bpf_map_lookup_elem(map, &tid);
	if (!sp)
		return 0;
	s = *sp;
	bpf_map_delete_elem(map, &tid);
	fsop_done(s.op, s.ts, bpf_ktime_get_ns(), ret, s.offset, s.fp);
	return 0;
}

SEC("tp_btf/ext4_sync_file_enter")
int BPF_PROG(sync_enter__tp, struct file *file, int datasync)
{
	return ext4_enter(&sync_start, FSOP_FSYNC, file, 0);
}

SEC("tp_btf/ext4_sync_file_exit")
int BPF_PROG(sync_exit__tp, struct inode *inode, int ret)
{
	return ext4_return(&sync_start, ret);
}

SEC("kprobe/ext4_file_read_iter")
int BPF_KPROBE(read_enter__kprobe, struct kiocb *iocb)
{
	return ext4_enter(&fsop_start, FSOP_READ, BPF_CORE_READ(iocb, ki_filp),
			  BPF_CORE_READ(iocb, ki_pos));
}

SEC("kretprobe/ext4_file_read_iter")
int BPF_KRETPROBE(read_exit__kprobe, long ret)
{
	return ext4_return(&fsop_start, ret);
}

SEC("kprobe/ext4_file_write_iter")
int BPF_KPROBE(write_enter__kprobe, struct kiocb *iocb)
{
	return ext4_enter(&fsop_start, FSOP_WRITE, BPF_CORE_READ(iocb, ki_filp),
			  BPF_CORE_READ(iocb, ki_pos));
}

SEC("kretprobe/ext4_file_write_iter")
int BPF_KRETPROBE(write_exit__kprobe, long ret)
{
	return ext4_return(&fsop_start, ret);
}

SEC("kprobe/ext4_file_open")
int BPF_KPROBE(open_enter__kprobe, struct inode *inode, struct file *file)
{
	return ext4_enter(&fsop_start, FSOP_OPEN, file, 0);
}

SEC("kretprobe/ext4_file_open")
int BPF_KRETPROBE(open_exit__kprobe, long ret)
{
	return ext4_return(&fsop_start, ret);
}

SEC("kprobe/ext4_sync_file")
int BPF_KPROBE(sync_enter__kprobe, struct file *file)
{
	return ext4_enter(&sync_start, FSOP_FSYNC, file, 0);
}

SEC("kretprobe/ext4_sync_file")
int BPF_KRETPROBE(sync_exit__kprobe, long ret)
{
	return ext4_return(&sync_start, ret);
}

#endif /* __EXT4OPS_BPF_H */
