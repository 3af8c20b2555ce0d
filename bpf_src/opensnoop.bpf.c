// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* opensnoop: open(), openat() and openat2() from the syscall tracepoints.
 * Arguments are kept per thread at entry; the record is built at exit and
 * emitted right-sized so a burst of short paths does not fill the ring. */
#include "corebpf.bpf.h"
#include "containers.bpf.h"
#include "cgroupid.bpf.h"
#include "opensnoop.h"

#define AT_FDCWD -100

const volatile __s32 targ_tgid = 0;
const volatile __s32 targ_tid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile bool targ_failed = false;
const volatile __u32 targ_flags = 0;      /* keep opens with any of these bits */
const volatile bool full_path = false;

struct open_args {
	const char *fname;
	__s32 flags;
	__u32 mode;
	__s32 dfd;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 24, struct open_event);

static __always_inline int trace_enter(__s32 dfd, const char *fname, __s32 flags, __u32 mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct open_args a = {};

	if (targ_tgid && targ_tgid != tgid)
		return 0;
	if (targ_tid && targ_tid != tid)
		return 0;
	if (!container_ok())
		return 0;
	if (targ_uid != INVALID_UID && targ_uid != current_uid())
		return 0;
	if (targ_flags && !(flags & targ_flags))
		return 0;
	a.fname = fname;
	a.flags = flags;
	a.mode = mode;
	a.dfd = dfd;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

/* Write the names from `dentry` up to the opener's root directory (its
 * chroot; else the root of the mount tree), innermost first, into e->buf
 * after the file name: the path as the opener sees it, as d_path() gives it.
 * `off` is masked at every step so the verifier sees one state per
 * iteration (and prunes the branches). */
static __always_inline void fill_dir(struct open_event *e, struct path *p,
				     struct path *top)
{
	struct dentry *dentry = BPF_CORE_READ(p, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(p, mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	struct dentry *top_dentry = BPF_CORE_READ(top, dentry);
	struct vfsmount *top_mnt = BPF_CORE_READ(top, mnt);
	__u32 off = e->fname_size, i;
	long n;

	for (i = 0; i < DIR_DEPTH; i++) {
		struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == top_dentry && vfsmnt == top_mnt)
			break;                  /* the opener's root */
		if (dentry == root || dentry == parent) {
			struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);

			if (mparent == mnt)
				break;          /* the real root */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mparent;
			vfsmnt = &mnt->mnt;
			continue;
		}
		if (off >= FNAME_MAX + DIR_MAX)
			break;
		n = bpf_probe_read_kernel_str(&e->buf[off & (FNAME_MAX + DIR_MAX - 1)], NAME_LEN,
					      BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			break;
		off = (off + n) & (2 * (FNAME_MAX + DIR_MAX) - 1);
		dentry = parent;
	}
	e->dir_size = off > e->fname_size ? off - e->fname_size : 0;
}

static __always_inline void resolve_dir(struct open_event *e, __s32 dfd)
{
	struct task_struct *task = current_task();
	struct path p, top = BPF_CORE_READ(task, fs, root);

	if (dfd == AT_FDCWD) {
		p = BPF_CORE_READ(task, fs, pwd);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = NULL;

		if (dfd < 0 || dfd >= BPF_CORE_READ(fdt, max_fds))
			return;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[dfd]);
		if (!f)
			return;
		p = BPF_CORE_READ(f, f_path);
	}
	fill_dir(e, &p, &top);
}

static __always_inline int trace_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0, size;
	struct open_args *a;
	struct open_event *e;
	long n;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	if (targ_failed && ret >= 0)
		goto out;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto out;
	e->ts = bpf_ktime_get_ns();
	e->cgroup = event_cgroup_id();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = current_uid();
	e->ret = ret;
	e->flags = a->flags;
	e->mode = a->mode;
	e->dir_size = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	n = bpf_probe_read_user_str(e->buf, FNAME_MAX, a->fname);
	if (n <= 0) {
		e->buf[0] = 0;
		n = 1;
	}
	e->fname_size = n;
	if (full_path && e->buf[0] != '/')
		resolve_dir(e, a->dfd);
	size = offsetof(struct open_event, buf) + e->fname_size + e->dir_size;
	if (size <= sizeof(*e))
		RINGBUF_OUTPUT(events, e, size);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int open_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return trace_enter(AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return trace_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int openat2_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return trace_enter(ctx->args[0], (const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int open_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int openat2_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return trace_exit(ctx->ret);
}

/* Variants btf and raw: the three syscalls through raw_syscalls' sys_enter/
 * sys_exit and a switch on the number (two links: a classic tracepoint takes
 * ~40 ms to detach, the six above made Ctrl-C -> exit ~0.36 s).
 * sc_action[nr]: OA_* below, filled by tools/opensnoop.py. */
#include "sysnr.bpf.h"

enum { OA_NONE, OA_OPEN, OA_OPENAT, OA_OPENAT2 };

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	struct open_how how = {};

	switch (sc_action_of(nr)) {
	case OA_OPEN:
		break;
	case OA_OPENAT:
		if (sc_compat())
			return 0;
		return trace_enter(sc_arg(regs, 0), (const char *)sc_arg(regs, 1),
				   sc_arg(regs, 2), sc_arg(regs, 3));
	case OA_OPENAT2:
		if (sc_compat())
			return 0;
		bpf_probe_read_user(&how, sizeof(how), (void *)sc_arg(regs, 2));
		return trace_enter(sc_arg(regs, 0), (const char *)sc_arg(regs, 1), how.flags,
				   how.mode);
	default:
		return 0;
	}
	if (sc_compat())
		return 0;
	return trace_enter(AT_FDCWD, (const char *)sc_arg(regs, 0), sc_arg(regs, 1),
			   sc_arg(regs, 2));
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return trace_exit(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)
