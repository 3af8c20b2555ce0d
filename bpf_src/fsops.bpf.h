/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File system operations seen at the system call level, for kernels where
 * a file system's own functions cannot be probed (no kprobes, no fentry).
 *
 * The read/write-family and open-family syscall tracepoints are used; an
 * operation is kept only when its file is a regular file on a file system
 * whose superblock magic is targ_fs_magic (looked up through the fd at entry
 * for reads and writes, through the returned fd for opens).  Entry state is
 * kept per thread; at exit the including file's fsop_done() gets the
 * operation.  What this sees differs from probing the file system: syscall
 * overhead is included (path lookup for opens), failed opens are not seen,
 * and I/O that enters the file system without these syscalls (mmap faults,
 * sendfile/splice, io_uring, aio, exec, in-kernel users) is not seen.
 *
 * Programs are named *__tp (the classic-tracepoint variant).  On
 * architectures without open(2)/creat(2) Python disables those programs. */
#ifndef __FSOPS_BPF_H
#define __FSOPS_BPF_H

#define S_IFMT 00170000
#define S_IFREG 0100000
#define O_PATH 010000000        /* opens no file operation sees */

enum fsop {
	FSOP_READ = 0,
	FSOP_WRITE = 1,
	FSOP_OPEN = 2,
	FSOP_FSYNC = 3,
};

#ifndef FSOPS_MAGIC
#error "define FSOPS_MAGIC (the traced file system's s_magic) before including fsops.bpf.h"
#endif
const volatile __u32 targ_fs_magic = FSOPS_MAGIC;
const volatile __u32 targ_tgid = 0;     /* only this process (0: all) */
/* The tool itself: its own output, written to a file on the traced file
 * system, would otherwise feed itself one event per write, forever. */
const volatile __u32 targ_self_tgid = 0;

struct fsop_start {
	__u64 ts;
	__u64 offset;
	struct file *fp;
	__u32 op;
};

/* The including file's sink: one finished operation on a matching file. */
static __always_inline void fsop_done(__u32 op, __u64 start, __u64 end, __s64 ret,
				      __u64 offset, struct file *fp);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct fsop_start);
} fsop_start SEC(".maps");

static __always_inline bool fsop_wanted_task(void)
{
	__u32 tgid = current_tgid();

	return (!targ_tgid || tgid == targ_tgid) && tgid != targ_self_tgid;
}

/* current->files->fdt->fd[fd], or NULL. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* A regular file on the file system we trace? */
static __always_inline bool fsop_file_matches(struct file *f)
{
	struct inode *inode;

	if (!f)
		return false;
	inode = BPF_CORE_READ(f, f_inode);
	if (!inode || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFREG)
		return false;
	return BPF_CORE_READ(inode, i_sb, s_magic) == targ_fs_magic;
}

static __always_inline int fsop_rw_enter(__u32 op, long fd, __s64 pos)
{
	struct fsop_start s = {};
	__u32 tid = current_tid();
	struct file *f;

	if (!fsop_wanted_task())
		return 0;
	f = fd_file(fd);
	if (!fsop_file_matches(f))
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.fp = f;
	s.op = op;
	/* pread/pwrite give the position; the others use (and move) f_pos */
	s.offset = pos >= 0 ? pos : BPF_CORE_READ(f, f_pos);
	bpf_map_update_elem(&fsop_start, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int fsop_open_enter(void)
{
	struct fsop_start s = {};
	__u32 tid = current_tid();

	if (!fsop_wanted_task())
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.op = FSOP_OPEN;
	bpf_map_update_elem(&fsop_start, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int fsop_exit(long ret)
{
	__u32 tid = current_tid();
	struct fsop_start *sp, s;

	sp = bpf_map_lookup_elem(&fsop_start, &tid);
	if (!sp)
		return 0;
	s = *sp;
	bpf_map_delete_elem(&fsop_start, &tid);
	if (s.op == FSOP_OPEN) {
		if (ret < 0)
			return 0;
		struct file *f = fd_file(ret);

		if (!fsop_file_matches(f) || (BPF_CORE_READ(f, f_flags) & O_PATH))
			return 0;
		s.fp = f;
	}
	fsop_done(s.op, s.ts, bpf_ktime_get_ns(), ret, s.offset, s.fp);
	return 0;
}

#define FSOP_ARG(ctx, i) ((struct trace_event_raw_sys_enter *)(ctx))->args[i]
#define FSOP_RET(ctx) ((struct trace_event_raw_sys_exit *)(ctx))->ret

/* rw syscall `name`: its operation and position (an expression of ctx; -1
 * for "the file position", as preadv2/pwritev2 also say with offset -1). */
#define FSOP_RW(name, op, pos)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter__tp(void *ctx)                                        \
	{                                                                      \
		return fsop_rw_enter(op, FSOP_ARG(ctx, 0), (__s64)(pos));      \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit__tp(void *ctx)                                         \
	{                                                                      \
		return fsop_exit(FSOP_RET(ctx));                               \
	}

#define FSOP_OPEN_SYSCALL(name)                                                \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter__tp(void *ctx)                                        \
	{                                                                      \
		return fsop_open_enter();                                      \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit__tp(void *ctx)                                         \
	{                                                                      \
		return fsop_exit(FSOP_RET(ctx));                               \
	}

/* For preadv/pwritev(2), pos_l (argument 3) is the whole offset on 64-bit. */
FSOP_RW(read, FSOP_READ, -1)
FSOP_RW(readv, FSOP_READ, -1)
FSOP_RW(pread64, FSOP_READ, FSOP_ARG(ctx, 3))
FSOP_RW(preadv, FSOP_READ, FSOP_ARG(ctx, 3))
FSOP_RW(preadv2, FSOP_READ, FSOP_ARG(ctx, 3))
FSOP_RW(write, FSOP_WRITE, -1)
FSOP_RW(writev, FSOP_WRITE, -1)
FSOP_RW(pwrite64, FSOP_WRITE, FSOP_ARG(ctx, 3))
FSOP_RW(pwritev, FSOP_WRITE, FSOP_ARG(ctx, 3))
FSOP_RW(pwritev2, FSOP_WRITE, FSOP_ARG(ctx, 3))
FSOP_OPEN_SYSCALL(open)
FSOP_OPEN_SYSCALL(openat)
FSOP_OPEN_SYSCALL(openat2)
FSOP_OPEN_SYSCALL(creat)

#endif /* __FSOPS_BPF_H */
