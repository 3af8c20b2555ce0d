/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File system operations seen at the system call level, for kernels where
 * a file system's own functions cannot be probed (no kprobes, no fentry).
 *
 * The read/write-family and open-family syscall tracepoints are used (and,
 * with FSOPS_FSYNC_SYSCALLS defined, fsync and fdatasync); an operation is
 * kept only when its file is a regular file (any file with targ_all_files)
 * on a file system whose superblock magic is targ_fs_magic (0: any), looked
 * up through the fd at entry, or through the returned fd for opens.  Entry
 * state is kept per thread; at exit the including file's fsop_done() gets
 * the operation.  What this sees differs from probing the file system:
 * syscall overhead is included (path lookup for opens), failed opens are
 * not seen, and I/O that enters the file system without these syscalls
 * (mmap faults, sendfile/splice, io_uring, aio, exec, in-kernel users) is
 * not seen.
 *
 * Function probes (kprobe/fentry variants, in ext4ops.bpf.h and
 * fsfuncs.bpf.h) feed the same fsop_done() through fsop_func_enter() and
 * fsop_func_return().
 *
 * Programs are named *__tp (the classic-tracepoint variant).  On
 * architectures without open(2)/creat(2) Python disables those programs.
 * With FSOPS_TIMES_ONLY defined (the *dist tools, whose fsop_done() uses
 * only an operation's kind and start time), the syscall path does not read
 * the file's dentry, mode, position or iovec sizes: fewer helper calls on
 * every read and write of a matching file.
 * fsop_sc_enter/fsop_sc_exit serve the same syscalls from raw_syscalls'
 * sys_enter/sys_exit (two links, which detach in ~1 ms instead of ~40 ms
 * for each of the 28 classic tracepoints); with FSOPS_SYSNR_PROGRAMS
 * defined, as the programs of variants "btf" and "raw" (sys_enter__btf, ...). */
#ifndef __FSOPS_BPF_H
#define __FSOPS_BPF_H

#include "vfs.bpf.h"
#include "fsops.h"

#define O_PATH 010000000        /* opens no file operation sees */
#define DENTRY(file) BPF_CORE_READ(file, f_path.dentry)
#define FSOP_WHOLE_FILE 0x7fffffffffffffffULL   /* LLONG_MAX: an fsync's range */

#ifndef FSOPS_MAGIC
#define FSOPS_MAGIC 0
#endif
const volatile __u32 targ_fs_magic = FSOPS_MAGIC;  /* 0: every file system */
const volatile __u32 targ_tgid = 0;     /* only this process (0: all) */
/* The tool itself: its own output, written to a file on the traced file
 * system, would otherwise feed itself one event per write, forever. */
const volatile __u32 targ_self_tgid = 0;
const volatile bool targ_all_files = false;     /* sockets, pipes, ... too */
const volatile bool targ_iov_bytes = false;     /* sum readv/writev iovecs */

struct fsop_start {
	__u64 ts;
	__u64 offset;
	__u64 count;            /* bytes asked for (reads and writes) */
	struct dentry *dentry;  /* the file's (NULL for opens until they return) */
	__u32 op;               /* enum fsop */
	__u32 mode;             /* the inode's i_mode */
};

/* The including file's sink: one finished operation on a matching file. */
static __always_inline void fsop_done(const struct fsop_start *s, __u64 end, __s64 ret);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct fsop_start);
} fsop_start SEC(".maps");

static __always_inline bool fsop_wanted_tgid(__u32 tgid)
{
	return (!targ_tgid || tgid == targ_tgid) && tgid != targ_self_tgid;
}

static __always_inline bool fsop_wanted_task(void)
{
	return fsop_wanted_tgid(current_tgid());
}

/* A file of the kind and on the file system we trace? */
static __always_inline bool fsop_inode_matches(struct inode *inode)
{
	if (!inode)
		return false;
	if (!targ_all_files && !S_ISREG(inode_mode(inode)))
		return false;
	return !targ_fs_magic || inode_magic(inode) == targ_fs_magic;
}

static __always_inline bool fsop_file_matches(struct file *f)
{
	return f && fsop_inode_matches(BPF_CORE_READ(f, f_inode));
}

static __always_inline int fsop_fd_enter(__u32 op, long fd, __s64 pos, __u64 count,
					 const struct iovec *iov, __u64 vlen)
{
	struct fsop_start s = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct inode *inode;
	struct file *f;

	if (!fsop_wanted_tgid(id >> 32))
		return 0;
	f = fd_file(fd);
	if (!f)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	if (!fsop_inode_matches(inode))
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.op = op;
#ifndef FSOPS_TIMES_ONLY
	s.dentry = BPF_CORE_READ(f, f_path.dentry);
	s.mode = inode_mode(inode);
	/* pread/pwrite give the position; the others use (and move) f_pos */
	s.offset = pos >= 0 ? pos : BPF_CORE_READ(f, f_pos);
	s.count = iov && targ_iov_bytes ? iov_bytes(iov, vlen) : count;
#endif
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
#ifndef FSOPS_TIMES_ONLY
		s.dentry = BPF_CORE_READ(f, f_path.dentry);
		s.mode = inode_mode(BPF_CORE_READ(f, f_inode));
#endif
	}
	fsop_done(&s, bpf_ktime_get_ns(), ret);
	return 0;
}

/* -- function probes (kprobe/fentry variants) --------------------------------------- */

/* Entry of a file system function: `map` is fsop_start, or a second map
 * for an operation that nests inside another (fsync inside an O_SYNC
 * write); `count` is the byte range of an fsync.  No dentry: nothing to do. */
static __always_inline int fsop_func_enter(void *map, __u32 op, struct dentry *dentry,
					   __u64 offset, __u64 count, bool check_file)
{
	struct fsop_start s = {};
	__u32 tid = current_tid();
	struct inode *inode;

	if (!dentry || !fsop_wanted_task())
		return 0;
	inode = BPF_CORE_READ(dentry, d_inode);
	if (check_file && !fsop_inode_matches(inode))
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.dentry = dentry;
	s.mode = inode_mode(inode);
	s.op = op;
	s.offset = offset;
	s.count = count;
	bpf_map_update_elem(map, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int fsop_func_return(void *map, long ret)
{
	__u32 tid = current_tid();
	struct fsop_start *sp, s;

	sp = bpf_map_lookup_elem(map, &tid);
	if (!sp)
		return 0;
	s = *sp;
	bpf_map_delete_elem(map, &tid);
	fsop_done(&s, bpf_ktime_get_ns(), ret);
	return 0;
}

#ifdef FSOPS_SYNC_MAP
/* fsync runs inside write() for O_SYNC files: its own map, so the two nest. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct fsop_start);
} sync_start SEC(".maps");
#endif

/* -- the syscall programs ---------------------------------------------------------- */

#define FSOP_ARG(ctx, i) ((struct trace_event_raw_sys_enter *)(ctx))->args[i]
#define FSOP_RET(ctx) ((struct trace_event_raw_sys_exit *)(ctx))->ret
#define FSOP_IOV(ctx) (const struct iovec *)FSOP_ARG(ctx, 1), FSOP_ARG(ctx, 2)
#define FSOP_NOIOV NULL, 0

#define FSOP_EXIT(name)                                                        \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit__tp(void *ctx)                                         \
	{                                                                      \
		return fsop_exit(FSOP_RET(ctx));                               \
	}

/* fd syscall `name`: its operation, position (an expression of ctx; -1 for
 * "the file position", as preadv2/pwritev2 also say with offset -1) and the
 * bytes asked for (`count`, or an iovec array + its length). */
#define FSOP_FD(name, op, pos, count, iov)                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter__tp(void *ctx)                                        \
	{                                                                      \
		return fsop_fd_enter(op, FSOP_ARG(ctx, 0), (__s64)(pos), count, iov); \
	}                                                                      \
	FSOP_EXIT(name)

#define FSOP_OPEN_SYSCALL(name)                                                \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter__tp(void *ctx)                                        \
	{                                                                      \
		return fsop_open_enter();                                      \
	}                                                                      \
	FSOP_EXIT(name)

/* For preadv/pwritev(2), pos_l (argument 3) is the whole offset on 64-bit. */
FSOP_FD(read, FSOP_READ, -1, FSOP_ARG(ctx, 2), FSOP_NOIOV)
FSOP_FD(readv, FSOP_READ, -1, 0, FSOP_IOV(ctx))
FSOP_FD(pread64, FSOP_READ, FSOP_ARG(ctx, 3), FSOP_ARG(ctx, 2), FSOP_NOIOV)
FSOP_FD(preadv, FSOP_READ, FSOP_ARG(ctx, 3), 0, FSOP_IOV(ctx))
FSOP_FD(preadv2, FSOP_READ, FSOP_ARG(ctx, 3), 0, FSOP_IOV(ctx))
FSOP_FD(write, FSOP_WRITE, -1, FSOP_ARG(ctx, 2), FSOP_NOIOV)
FSOP_FD(writev, FSOP_WRITE, -1, 0, FSOP_IOV(ctx))
FSOP_FD(pwrite64, FSOP_WRITE, FSOP_ARG(ctx, 3), FSOP_ARG(ctx, 2), FSOP_NOIOV)
FSOP_FD(pwritev, FSOP_WRITE, FSOP_ARG(ctx, 3), 0, FSOP_IOV(ctx))
FSOP_FD(pwritev2, FSOP_WRITE, FSOP_ARG(ctx, 3), 0, FSOP_IOV(ctx))
FSOP_OPEN_SYSCALL(open)
FSOP_OPEN_SYSCALL(openat)
FSOP_OPEN_SYSCALL(openat2)
FSOP_OPEN_SYSCALL(creat)
#ifdef FSOPS_FSYNC_SYSCALLS
/* the whole file, as vfs_fsync() asks the file system */
FSOP_FD(fsync, FSOP_FSYNC, 0, FSOP_WHOLE_FILE, FSOP_NOIOV)
FSOP_FD(fdatasync, FSOP_FSYNC, 0, FSOP_WHOLE_FILE, FSOP_NOIOV)
#endif

/* The same syscalls through raw_syscalls (sysnr.bpf.h): sc_action[nr] =
 * FSA_* << 8 | op, filled by Python (tools/_fsops.py). */
#include "sysnr.bpf.h"

enum fsop_action { FSA_NONE, FSA_RW, FSA_PRW, FSA_OPEN, FSA_RWV, FSA_PRWV, FSA_FSYNC };

static __always_inline int fsop_sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr), op = a & 0xff;
	long fd;

	if (!a || sc_compat())
		return 0;
	if ((a >> 8) == FSA_OPEN)
		return fsop_open_enter();
	fd = sc_arg(regs, 0);
	switch (a >> 8) {
#ifdef FSOPS_TIMES_ONLY
	case FSA_RW:
	case FSA_PRW:
	case FSA_RWV:
	case FSA_PRWV:
	case FSA_FSYNC:
		return fsop_fd_enter(op, fd, 0, 0, NULL, 0);
#else
	case FSA_RW:
		return fsop_fd_enter(op, fd, -1, sc_arg(regs, 2), NULL, 0);
	case FSA_PRW:
		return fsop_fd_enter(op, fd, (__s64)sc_arg(regs, 3), sc_arg(regs, 2), NULL, 0);
	case FSA_RWV:
		return fsop_fd_enter(op, fd, -1, 0, (const struct iovec *)sc_arg(regs, 1),
				     sc_arg(regs, 2));
	case FSA_PRWV:
		return fsop_fd_enter(op, fd, (__s64)sc_arg(regs, 3), 0,
				     (const struct iovec *)sc_arg(regs, 1), sc_arg(regs, 2));
	case FSA_FSYNC:         /* the whole file, as FSOP_FD(fsync, ...) */
		return fsop_fd_enter(op, fd, 0, FSOP_WHOLE_FILE, NULL, 0);
#endif
	}
	return 0;
}

/* At exit, no sc_compat(): a compat task's entry kept nothing to find. */
static __always_inline int fsop_sc_exit_nr(long nr, long ret)
{
	if (!sc_action_of(nr))
		return 0;
	return fsop_exit(ret);
}

static __always_inline int fsop_sc_exit(struct pt_regs *regs, long ret)
{
	return fsop_sc_exit_nr(sc_regs_nr(regs), ret);
}

/* Variants "btf" and "raw" of an including file that has no programs of
 * its own for them (ext4ops.bpf.h has: with its exact fsync tracepoints). */
#ifdef FSOPS_SYSNR_PROGRAMS
SYSNR_PROGRAMS(fsop_sc_enter, fsop_sc_exit)
#endif

#endif /* __FSOPS_BPF_H */
