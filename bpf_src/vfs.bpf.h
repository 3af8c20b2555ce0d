/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers for the file-system tools (filetop, vfsstat, filelife, ...):
 * an fd of the current task to its struct file, inode facts, dentry names
 * and whole paths.  Only CO-RE reads, so tracepoint, kprobe and fentry
 * programs can all use them.  Include after corebpf.bpf.h. */
#ifndef __VFS_BPF_H
#define __VFS_BPF_H

/* uapi constants: macros, so not in vmlinux.h */
#define S_IFMT   00170000
#define S_IFSOCK 0140000
#define S_IFLNK  0120000
#define S_IFREG  0100000
#define S_IFDIR  0040000
#define S_ISREG(m)  (((m) & S_IFMT) == S_IFREG)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)

#define AT_FDCWD      -100
#define AT_REMOVEDIR  0x200
#define O_CREAT       0100
#define FMODE_CREATED 0x100000   /* f_mode bit set by the open that created the file */
#define EXT4_SUPER_MAGIC 0xEF53

/* The struct file behind `fd` in the current task, or NULL. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = current_task();
	struct files_struct *files;
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	if (fd < 0)
		return NULL;
	if (HAVE_TASK_BTF) {
		/* typed pointers down to the table: direct loads, no helper
		 * calls (this runs on every read and write of the syscall-level
		 * variants) */
		files = task->files;
		if (!files)
			return NULL;
		fdt = files->fdt;
		if (!fdt)
			return NULL;
		max = fdt->max_fds;
		fds = fdt->fd;
	} else {
		fdt = BPF_CORE_READ(task, files, fdt);
		if (!fdt)
			return NULL;
		max = BPF_CORE_READ(fdt, max_fds);
		fds = BPF_CORE_READ(fdt, fd);
	}
	if (fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline __u32 inode_mode(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_mode);
}

static __always_inline __u32 inode_dev(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_sb, s_dev);
}

static __always_inline unsigned long inode_magic(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_sb, s_magic);
}

/* Copy a dentry's name (NUL-terminated, truncated to size); return its
 * full length (qstr.len), which may exceed what was copied. */
static __always_inline __u32 dentry_name(struct dentry *d, char *buf, __u32 size)
{
	struct qstr q = BPF_CORE_READ(d, d_name);

	bpf_probe_read_kernel_str(buf, size, q.name);
	return q.len;
}

#define IOV_MAX_SUMMED 16

/* Bytes requested by a user iovec array (its first IOV_MAX_SUMMED entries). */
static __always_inline __u64 iov_bytes(const struct iovec *iov, __u64 vlen)
{
	__u64 total = 0;
	struct iovec v;
	int i;

	for (i = 0; i < IOV_MAX_SUMMED; i++) {
		if (i >= vlen)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		total += v.iov_len;
	}
	return total;
}

/* Entry programs (SYSCALL__tp) of the read and write syscall families, each
 * calling handler(struct file *, __u64 bytes requested, bool is_read). */
#define VFS_RW_TP(handler, sc, is_read, bytes)                                 \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##__tp(struct trace_event_raw_sys_enter *ctx)                   \
	{                                                                      \
		return handler(fd_file(ctx->args[0]), (bytes), is_read);       \
	}
#define VFS_RW_IOV(ctx) iov_bytes((void *)(ctx)->args[1], (ctx)->args[2])
#define VFS_RW_SYSCALLS(handler)                                               \
	VFS_RW_TP(handler, read, true, ctx->args[2])                           \
	VFS_RW_TP(handler, pread64, true, ctx->args[2])                        \
	VFS_RW_TP(handler, readv, true, VFS_RW_IOV(ctx))                       \
	VFS_RW_TP(handler, preadv, true, VFS_RW_IOV(ctx))                      \
	VFS_RW_TP(handler, preadv2, true, VFS_RW_IOV(ctx))                     \
	VFS_RW_TP(handler, write, false, ctx->args[2])                         \
	VFS_RW_TP(handler, pwrite64, false, ctx->args[2])                      \
	VFS_RW_TP(handler, writev, false, VFS_RW_IOV(ctx))                     \
	VFS_RW_TP(handler, pwritev, false, VFS_RW_IOV(ctx))                    \
	VFS_RW_TP(handler, pwritev2, false, VFS_RW_IOV(ctx))

/* The same syscalls through raw_syscalls' sys_enter (variants btf and raw)
 * and a switch on the number (include sysnr.bpf.h first): sc_action[nr] =
 * 1 << 1 (bytes in argument 2) or 2 << 1 (an iovec array), | 1 for reads
 * (tools/filetop.py SYSCALLS). */
#define VFS_RW_SYSCALLS_RAW(handler)                                           \
	static __always_inline int handler##_sc_enter(struct pt_regs *regs, long nr) \
	{                                                                      \
		__u32 a = sc_action_of(nr);                                    \
		struct file *f;                                                \
                                                                               \
		if (!a || sc_compat())                                         \
			return 0;                                              \
		f = fd_file(sc_arg(regs, 0));                                  \
		if (a >> 1 == 1)                                               \
			return handler(f, sc_arg(regs, 2), a & 1);             \
		return handler(f, iov_bytes((void *)sc_arg(regs, 1), sc_arg(regs, 2)), \
			       a & 1);                                         \
	}                                                                      \
	SEC("tp_btf/sys_enter")                                                \
	int BPF_PROG(sys_enter__btf, struct pt_regs *regs, long nr)           \
	{                                                                      \
		return handler##_sc_enter(regs, nr);                           \
	}                                                                      \
	SEC("raw_tp/sys_enter")                                                \
	int BPF_PROG(sys_enter__raw, struct pt_regs *regs, long nr)           \
	{                                                                      \
		return handler##_sc_enter(regs, nr);                           \
	}

/* The inode's first dentry alias (a name for an inode a tracepoint gives). */
static __always_inline struct dentry *inode_dentry(struct inode *inode)
{
	struct hlist_node *first = BPF_CORE_READ(inode, i_dentry.first);

	if (!first)
		return NULL;
	return (void *)first - bpf_core_field_offset(struct dentry, d_u.d_alias);
}

/* Path walks write dentry names innermost first, each NUL-terminated,
 * into a buffer of PATH_BUF bytes with PATH_SLACK spare bytes after it;
 * user space reverses and joins them.  `off` is masked at every step so
 * the verifier sees one bounded offset per iteration. */
#ifndef PATH_BUF
#define PATH_BUF 4096
#endif
#define PATH_NAME_MAX 256
#define PATH_SLACK PATH_NAME_MAX
#ifndef PATH_DEPTH
#define PATH_DEPTH 40
#endif

static __always_inline __u32 walk_path(char *buf, __u32 off, const struct path *p)
{
	struct dentry *dentry = BPF_CORE_READ(p, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(p, mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 i;
	long n;

	for (i = 0; i < PATH_DEPTH; i++) {
		struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == root || dentry == parent) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (up == mnt)
				break;                  /* the root of the tree */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vfsmnt = &mnt->mnt;
			continue;
		}
		if (off >= PATH_BUF)
			break;
		n = bpf_probe_read_kernel_str(&buf[off & (PATH_BUF - 1)], PATH_NAME_MAX,
					      BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			break;
		off = (off + n) & (2 * PATH_BUF - 1);
		dentry = parent;
	}
	return off;
}

/* The directory a *at() call with `dfd` resolves relative paths against. */
static __always_inline int dir_of_dfd(long dfd, struct path *out)
{
	struct task_struct *task = current_task();
	struct file *f;

	if ((int)dfd == AT_FDCWD) {
		*out = BPF_CORE_READ(task, fs, pwd);
		return 0;
	}
	f = fd_file((int)dfd);
	if (!f)
		return -1;
	*out = BPF_CORE_READ(f, f_path);
	return 0;
}

#endif /* __VFS_BPF_H */
