/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Operations of any one file system, for fsslower/fsdist and the per-file
 * system tools built on them (xfsslower, btrfsdist, nfsslower, ...).
 *
 * Variant "tp": the syscall level of fsops.bpf.h (reads, writes, opens,
 * fsync/fdatasync; variants "btf" and "raw": the same through raw_syscalls,
 * except for NFS, whose getattr programs are the tp variant's), filtered to files whose superblock magic Python sets in
 * targ_fs_magic; NFS adds its getattr tracepoints (nfs:nfs_getattr_enter/
 * exit, around nfs_getattr, as raw tracepoints: the inode is the argument).
 * Variants "fentry" and "kprobe" (bcc's, libbpf-tools'): entry and return
 * of the file system's own functions; the programs have no target here,
 * Python sets it (fentry) or attaches them (kprobe) by the file system's
 * function names.  open2 is a second open function (nfs4_file_open beside
 * nfs_file_open).
 * NFS COMMITs (commit__* programs, any variant): the nfs_initiate_commit and
 * nfs_commit_done raw tracepoints, as bcc's nfsslower; the task and PID are
 * the one completing the commit (bcc's too). */
#ifndef __FSFUNCS_BPF_H
#define __FSFUNCS_BPF_H

#define FSOPS_FSYNC_SYSCALLS
#define FSOPS_SYNC_MAP
#define FSOPS_SYSNR_PROGRAMS
#include "fsops.bpf.h"

static __always_inline int iocb_enter(__u32 op, struct kiocb *iocb)
{
	return fsop_func_enter(&fsop_start, op, BPF_CORE_READ(iocb, ki_filp, f_path.dentry),
			       BPF_CORE_READ(iocb, ki_pos), 0, true);
}

/* getattr(idmap or userns, path, ...) since 5.12 (when vfs_rename() began
 * to take a struct renamedata); getattr(path, ...) before. */
static __always_inline int getattr_enter(__u64 arg0, __u64 arg1)
{
	struct path *path;

	barrier_var(arg0);      /* both read: no select on the context's address */
	barrier_var(arg1);
	path = (void *)(bpf_core_type_exists(struct renamedata) ? arg1 : arg0);

	return fsop_func_enter(&fsop_start, FSOP_GETATTR, BPF_CORE_READ(path, dentry), 0, 0,
			       true);
}

/* -- kprobe variant ------------------------------------------------------------------- */

SEC("kprobe")
int BPF_KPROBE(fn_read_enter__kprobe, struct kiocb *iocb)
{
	return iocb_enter(FSOP_READ, iocb);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_read_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe")
int BPF_KPROBE(fn_write_enter__kprobe, struct kiocb *iocb)
{
	return iocb_enter(FSOP_WRITE, iocb);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_write_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe")
int BPF_KPROBE(fn_open_enter__kprobe, struct inode *inode, struct file *file)
{
	return fsop_func_enter(&fsop_start, FSOP_OPEN, DENTRY(file), 0, 0, true);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_open_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe")
int BPF_KPROBE(fn_open2_enter__kprobe, struct inode *inode, struct file *file)
{
	return fsop_func_enter(&fsop_start, FSOP_OPEN, DENTRY(file), 0, 0, true);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_open2_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("kprobe")
int BPF_KPROBE(fn_fsync_enter__kprobe, struct file *file, __s64 start, __s64 end)
{
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, end - start, true);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_fsync_exit__kprobe, long ret)
{
	return fsop_func_return(&sync_start, ret);
}

SEC("kprobe")
int BPF_KPROBE(fn_getattr_enter__kprobe, __u64 arg0, __u64 arg1)
{
	return getattr_enter(arg0, arg1);
}

SEC("kretprobe")
int BPF_KRETPROBE(fn_getattr_exit__kprobe, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

/* -- fentry variant ------------------------------------------------------------------- */

SEC("fentry")
int BPF_PROG(fn_read_enter__fentry, struct kiocb *iocb)
{
	return iocb_enter(FSOP_READ, iocb);
}

SEC("fexit")
int BPF_PROG(fn_read_exit__fentry, struct kiocb *iocb, struct iov_iter *to, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("fentry")
int BPF_PROG(fn_write_enter__fentry, struct kiocb *iocb)
{
	return iocb_enter(FSOP_WRITE, iocb);
}

SEC("fexit")
int BPF_PROG(fn_write_exit__fentry, struct kiocb *iocb, struct iov_iter *from, long ret)
{
	return fsop_func_return(&fsop_start, ret);
}

SEC("fentry")
int BPF_PROG(fn_open_enter__fentry, struct inode *inode, struct file *file)
{
	return fsop_func_enter(&fsop_start, FSOP_OPEN, DENTRY(file), 0, 0, true);
}

SEC("fexit")
int BPF_PROG(fn_open_exit__fentry)
{
	return fsop_func_return(&fsop_start, 0);
}

SEC("fentry")
int BPF_PROG(fn_open2_enter__fentry, struct inode *inode, struct file *file)
{
	return fsop_func_enter(&fsop_start, FSOP_OPEN, DENTRY(file), 0, 0, true);
}

SEC("fexit")
int BPF_PROG(fn_open2_exit__fentry)
{
	return fsop_func_return(&fsop_start, 0);
}

SEC("fentry")
int BPF_PROG(fn_fsync_enter__fentry, struct file *file, __s64 start, __s64 end)
{
	return fsop_func_enter(&sync_start, FSOP_FSYNC, DENTRY(file), 0, end - start, true);
}

SEC("fexit")
int BPF_PROG(fn_fsync_exit__fentry)
{
	return fsop_func_return(&sync_start, 0);
}

SEC("fentry")
int BPF_PROG(fn_getattr_enter__fentry, __u64 arg0, __u64 arg1)
{
	return getattr_enter(arg0, arg1);
}

SEC("fexit")
int BPF_PROG(fn_getattr_exit__fentry)
{
	return fsop_func_return(&fsop_start, 0);
}

/* -- NFS: getattr (tp variant) and COMMIT (every variant) -------------------------- */

SEC("raw_tp/nfs_getattr_enter")
int BPF_PROG(getattr_enter__tp, struct inode *inode)
{
	return fsop_func_enter(&fsop_start, FSOP_GETATTR, inode_dentry(inode), 0, 0, true);
}

SEC("raw_tp/nfs_getattr_exit")
int BPF_PROG(getattr_exit__tp, struct inode *inode, int error)
{
	return fsop_func_return(&fsop_start, error);
}

/* The NFS client's types, as far as read here (module BTF relocates them). */
struct nfs_open_context___fsops {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct nfs_commitargs___fsops {
	__u64 offset;
	__u32 count;
} __attribute__((preserve_access_index));

struct nfs_commit_data___fsops {
	struct nfs_commitargs___fsops args;
	struct nfs_open_context___fsops *context;
} __attribute__((preserve_access_index));

/* COMMITs in flight, by their nfs_commit_data */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct fsop_start);
} commit_start SEC(".maps");

SEC("raw_tp/nfs_initiate_commit")
int BPF_PROG(commit_begin, struct nfs_commit_data___fsops *cd)
{
	struct fsop_start s = { .op = FSOP_COMMIT };
	__u64 key = (__u64)cd;

	if (!bpf_core_type_exists(struct nfs_commit_data___fsops))
		return 0;               /* no NFS client here: loads, never runs */
	s.ts = bpf_ktime_get_ns();
	s.offset = BPF_CORE_READ(cd, args.offset);
	s.count = BPF_CORE_READ(cd, args.count);
	s.dentry = BPF_CORE_READ(cd, context, dentry);
	bpf_map_update_elem(&commit_start, &key, &s, BPF_ANY);
	return 0;
}

SEC("raw_tp/nfs_commit_done")
int BPF_PROG(commit_end, void *task, struct nfs_commit_data___fsops *cd)
{
	__u64 key = (__u64)cd;
	struct fsop_start *sp, s;

	sp = bpf_map_lookup_elem(&commit_start, &key);
	if (!sp)
		return 0;
	s = *sp;
	bpf_map_delete_elem(&commit_start, &key);
	if (!fsop_wanted_task())
		return 0;
	fsop_done(&s, bpf_ktime_get_ns(), 0);
	return 0;
}

#endif /* __FSFUNCS_BPF_H */
