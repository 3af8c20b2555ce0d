/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ext4 reads, writes, opens and fsyncs for ext4slower and ext4dist.
 *
 * Variants "btf" and "raw" (the default where tp_btf or raw_tp serve): as "tp"
 * but the syscalls through raw_syscalls sys_enter/sys_exit and a switch on
 * the number.
 * Variant "tp" (kernels without kprobes/fentry): syscall level, filtered to
 * ext4 files (fsops.bpf.h), plus the exact ext4_sync_file_enter/exit
 * tracepoints for fsync.  Variant "kprobe" (as bcc): entry and return of
 * ext4_file_read_iter, ext4_file_write_iter, ext4_file_open, ext4_sync_file.
 * Both end in the including file's fsop_done(). */
#ifndef __EXT4OPS_BPF_H
#define __EXT4OPS_BPF_H

#define FSOPS_MAGIC EXT4_SUPER_MAGIC
#define FSOPS_SYNC_MAP
#include "fsops.bpf.h"
#include "scchain.bpf.h"

SEC("tp_btf/ext4_sync_file_enter")
int BPF_PROG(sync_enter__tp, struct file *file, int datasync)
{
	/* no range in the tracepoint: as fsync(2) asks, the whole file.  The
	 * verifier of 6.12 types the argument trusted-or-NULL: checked first. */
	if (!file)
		return 0;
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, FSOP_WHOLE_FILE,
			       false);
}

SEC("tp_btf/ext4_sync_file_exit")
int BPF_PROG(sync_exit__tp, struct inode *inode, int ret)
{
	return fsop_func_return(&sync_start, ret);
}

/* Variant "btf": the syscalls through raw_syscalls' tp_btf sys_enter/exit. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter__btf, struct pt_regs *regs, long nr)
{
	fsop_sc_enter(regs, nr);
	return SC_NEXT(enter, btf);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit__btf, struct pt_regs *regs, long ret)
{
	fsop_sc_exit_nr(sc_btf_regs_nr(regs), ret);
	return SC_NEXT(exit, btf);
}

SEC("tp_btf/ext4_sync_file_enter")
int BPF_PROG(sync_enter__btf, struct file *file, int datasync)
{
	if (!file)	/* trusted-or-NULL on 6.12, as sync_enter__tp */
		return 0;
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, FSOP_WHOLE_FILE,
			       false);
}

SEC("tp_btf/ext4_sync_file_exit")
int BPF_PROG(sync_exit__btf, struct inode *inode, int ret)
{
	return fsop_func_return(&sync_start, ret);
}

/* Variant "raw": as "btf" through raw tracepoints, which need no kernel BTF
 * to attach (the minimal BTF cache serves their CO-RE relocations: libbpf
 * need not parse the kernel's whole BTF, ~11 MB for a moment). */
SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter__raw, struct pt_regs *regs, long nr)
{
	fsop_sc_enter(regs, nr);
	return SC_NEXT(enter, raw);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit__raw, struct pt_regs *regs, long ret)
{
	fsop_sc_exit(regs, ret);
	return SC_NEXT(exit, raw);
}

SEC("raw_tp/ext4_sync_file_enter")
int BPF_PROG(sync_enter__raw, struct file *file, int datasync)
{
	if (!file)
		return 0;
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, FSOP_WHOLE_FILE,
			       false);
}

SEC("raw_tp/ext4_sync_file_exit")
int BPF_PROG(sync_exit__raw, struct inode *inode, int ret)
{
	return fsop_func_return(&sync_start, ret);
}

SEC("kprobe/ext4_file_read_iter")
int BPF_KPROBE(read_enter__kprobe, struct kiocb *iocb)
{
	return fsop_func_enter(&fsop_start, FSOP_READ, BPF_CORE_READ(iocb, ki_filp, f_path.dentry),
			       BPF_CORE_READ(iocb, ki_pos), 0, false);
}

SEC("kretprobe/ext4_file_read_iter")
int BPF_KRETPROBE(read_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe/ext4_file_write_iter")
int BPF_KPROBE(write_enter__kprobe, struct kiocb *iocb)
{
	return fsop_func_enter(&fsop_start, FSOP_WRITE, BPF_CORE_READ(iocb, ki_filp, f_path.dentry),
			       BPF_CORE_READ(iocb, ki_pos), 0, false);
}

SEC("kretprobe/ext4_file_write_iter")
int BPF_KRETPROBE(write_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe/ext4_file_open")
int BPF_KPROBE(open_enter__kprobe, struct inode *inode, struct file *file)
{
	return fsop_func_enter(&fsop_start, FSOP_OPEN, DENTRY(file), 0, 0, false);
}

SEC("kretprobe/ext4_file_open")
int BPF_KRETPROBE(open_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe/ext4_sync_file")
int BPF_KPROBE(sync_enter__kprobe, struct file *file, __s64 start, __s64 end)
{
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, end - start, false);
}

SEC("kretprobe/ext4_sync_file")
int BPF_KRETPROBE(sync_exit__kprobe, long ret)
{
	return fsop_func_return(&sync_start, ret);
}

#endif /* __EXT4OPS_BPF_H */
