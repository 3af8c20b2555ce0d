// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* vfsstat: counts of a few VFS operations, per CPU, read and cleared by
 * Python each interval.
 *
 * kprobe variant (bcc's): calls of vfs_read, vfs_write, vfs_fsync_range,
 * vfs_open, vfs_create, vfs_unlink, vfs_mkdir, vfs_rmdir.
 * tracepoint variant (kernels without kprobes): the syscalls that reach
 * them.  READ/WRITE count read/write-family calls at entry; FSYNC fsync,
 * fdatasync and msync(MS_SYNC); OPEN successful opens; CREATE opens that
 * created their file plus successful mknod of regular files; UNLINK,
 * MKDIR, RMDIR successful unlink/unlinkat, mkdir/mkdirat, rmdir and
 * unlinkat(AT_REMOVEDIR). */
#include "corebpf.bpf.h"
#include "vfs.bpf.h"
#include "vfsstat.h"
#include "cgroupid.bpf.h"

#define MS_SYNC 4

const volatile __s32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vfs_counts);
} stats SEC(".maps");

CGROUP_COUNTS(cgroup_stats);    /* targ_containers (the exporter): counts per task cgroup */

/* tracepoint variant: the operation a namespace syscall will count if it
 * succeeds, kept per thread from entry to exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u32);
} pending SEC(".maps");

static __always_inline bool skip(void)
{
	return targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid;
}

static __always_inline void inc(__u32 stat)
{
	__u32 zero = 0;
	struct vfs_counts *c;

	if (stat >= S_MAXSTAT || skip())
		return;
	if (targ_containers) {
		cgroup_count(&cgroup_stats, task_cgroup_id(), stat);
		return;
	}
	c = bpf_map_lookup_elem(&stats, &zero);
	if (c)
		c->n[stat & (S_MAXSTAT - 1)]++;
}

/* -- kprobe variant ---------------------------------------------------------- */

SEC("kprobe/vfs_read")
int read__kprobe(void *ctx) { inc(S_READ); return 0; }

SEC("kprobe/vfs_write")
int write__kprobe(void *ctx) { inc(S_WRITE); return 0; }

SEC("kprobe/vfs_fsync_range")
int fsync__kprobe(void *ctx) { inc(S_FSYNC); return 0; }

/* vfs_open(path, file): the open that created the file has FMODE_CREATED
 * set by then; counting it keeps CREATE meaning "files created" (current
 * kernels create O_CREAT files without calling vfs_create). */
SEC("kprobe/vfs_open")
int BPF_KPROBE(open__kprobe, const struct path *path, struct file *file)
{
	inc(S_OPEN);
	if (BPF_CORE_READ(file, f_mode) & FMODE_CREATED)
		inc(S_CREATE);
	return 0;
}

SEC("kprobe/vfs_create")
int create__kprobe(void *ctx) { inc(S_CREATE); return 0; }

SEC("kprobe/vfs_unlink")
int unlink__kprobe(void *ctx) { inc(S_UNLINK); return 0; }

SEC("kprobe/vfs_mkdir")
int mkdir__kprobe(void *ctx) { inc(S_MKDIR); return 0; }

SEC("kprobe/vfs_rmdir")
int rmdir__kprobe(void *ctx) { inc(S_RMDIR); return 0; }

/* -- tracepoint variant ------------------------------------------------------ */

#define COUNT_AT_ENTRY(sc, stat)                                               \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##__tp(void *ctx) { inc(stat); return 0; }

COUNT_AT_ENTRY(read, S_READ)
COUNT_AT_ENTRY(readv, S_READ)
COUNT_AT_ENTRY(pread64, S_READ)
COUNT_AT_ENTRY(preadv, S_READ)
COUNT_AT_ENTRY(preadv2, S_READ)
COUNT_AT_ENTRY(write, S_WRITE)
COUNT_AT_ENTRY(writev, S_WRITE)
COUNT_AT_ENTRY(pwrite64, S_WRITE)
COUNT_AT_ENTRY(pwritev, S_WRITE)
COUNT_AT_ENTRY(pwritev2, S_WRITE)
COUNT_AT_ENTRY(fsync, S_FSYNC)
COUNT_AT_ENTRY(fdatasync, S_FSYNC)

SEC("tracepoint/syscalls/sys_enter_msync")
int msync__tp(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & MS_SYNC)
		inc(S_FSYNC);
	return 0;
}

static __always_inline int opened(long ret)
{
	struct file *f;

	if (ret < 0 || skip())
		return 0;
	inc(S_OPEN);
	f = fd_file(ret);
	if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		inc(S_CREATE);
	return 0;
}

#define OPEN_EXIT(sc)                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #sc)                              \
	int sc##_exit__tp(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return opened(ctx->ret);                                       \
	}

OPEN_EXIT(open)
OPEN_EXIT(openat)
OPEN_EXIT(openat2)
OPEN_EXIT(creat)

static __always_inline int expect(__u32 stat)
{
	__u32 tid = current_tid();

	if (stat < S_MAXSTAT && !skip())
		bpf_map_update_elem(&pending, &tid, &stat, BPF_ANY);
	return 0;
}

static __always_inline int done(long ret)
{
	__u32 tid = current_tid(), *stat;

	stat = bpf_map_lookup_elem(&pending, &tid);
	if (!stat)
		return 0;
	if (ret == 0)
		inc(*stat);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* mknod of a regular file (type bits 0 mean regular too) counts as a create */
static __always_inline __u32 mknod_stat(__u64 mode)
{
	return ((mode & S_IFMT) == 0 || S_ISREG(mode)) ? S_CREATE : S_MAXSTAT;
}

#define NS_CALL(sc, nargs, stat_expr)                                          \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##_enter__tp(struct trace_event_raw_sys_enter *ctx)             \
	{                                                                      \
		return expect(stat_expr);                                      \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #sc)                              \
	int sc##_exit__tp(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return done(ctx->ret);                                         \
	}

NS_CALL(mknod, 3, mknod_stat(ctx->args[1]))
NS_CALL(mknodat, 4, mknod_stat(ctx->args[2]))
NS_CALL(unlink, 1, S_UNLINK)
NS_CALL(unlinkat, 3, (ctx->args[2] & AT_REMOVEDIR) ? S_RMDIR : S_UNLINK)
NS_CALL(mkdir, 2, S_MKDIR)
NS_CALL(mkdirat, 3, S_MKDIR)
NS_CALL(rmdir, 1, S_RMDIR)

/* -- raw_syscalls variants (btf, raw): the syscalls above through two hooks ---
 * sc_action[nr] = VA_*(kind) << 8 | stat, filled by tools/vfsstat.py. */
#include "sysnr.bpf.h"
#include "scchain.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	switch (a >> 8) {
	case VA_ENTRY:
		inc(a & 0xff);
		return 0;
	case VA_MSYNC:
		if (sc_arg(regs, 2) & MS_SYNC)
			inc(S_FSYNC);
		return 0;
	case VA_NS:
		return expect(a & 0xff);
	case VA_MKNOD:
		return expect(mknod_stat(sc_arg(regs, 1)));
	case VA_MKNODAT:
		return expect(mknod_stat(sc_arg(regs, 2)));
	case VA_UNLINKAT:
		return expect((sc_arg(regs, 2) & AT_REMOVEDIR) ? S_RMDIR : S_UNLINK);
	}
	return 0;
}

static __always_inline int sc_exit(long nr, long ret)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	switch (a >> 8) {
	case VA_OPEN:
		return opened(ret);
	case VA_NS:
	case VA_MKNOD:
	case VA_MKNODAT:
	case VA_UNLINKAT:
		return done(ret);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter__btf, struct pt_regs *regs, long nr)
{
	sc_enter(regs, nr);
	return SC_NEXT(enter, btf);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit__btf, struct pt_regs *regs, long ret)
{
	sc_exit(sc_btf_regs_nr(regs), ret);
	return SC_NEXT(exit, btf);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(enter__raw, struct pt_regs *regs, long nr)
{
	sc_enter(regs, nr);
	return SC_NEXT(enter, raw);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(exit__raw, struct pt_regs *regs, long ret)
{
	sc_exit(sc_regs_nr(regs), ret);
	return SC_NEXT(exit, raw);
}
