// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* filegone: files deleted (unlink, rmdir) or renamed, when the call succeeds.
 * Variant "tp": the unlink/unlinkat/rmdir/rename/renameat/renameat2 syscall
 * tracepoints; the user's path pointers are kept at entry and the paths
 * read at a successful exit (the caller's memory is untouched in between);
 * Python shows their last component, as bcc shows the dentry's name.
 * Variants "btf" and "raw": the same syscalls through raw_syscalls.
 * Variants "fentry" and "kprobe" (bcc's): vfs_unlink, vfs_rmdir and
 * vfs_rename, the dentries' names read at entry. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "filegone.h"

const volatile __u32 targ_tgid = 0;

#define NAME_MAX_READ 256

struct pending {
	const char *path;       /* tp: user pointers */
	const char *path2;
	__u32 action;
	char name[NAME_MAX_READ];       /* function variants: dentry names */
	char name2[NAME_MAX_READ];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gone_event);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct gone_event);

static __always_inline struct pending *begin(__u32 action)
{
	static const struct pending zero;
	__u32 tid = current_tid();

	if (targ_tgid && current_tgid() != targ_tgid)
		return NULL;
	if (bpf_map_update_elem(&pending, &tid, &zero, BPF_ANY))
		return NULL;
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);

	if (p)
		p->action = action;
	return p;
}

/* The call returned `ret`: on success, send what it removed or renamed. */
static __always_inline int done(long ret, bool user_paths)
{
	__u32 tid = current_tid(), zero = 0;
	struct gone_event *e;
	struct pending *p;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	e = ret ? NULL : bpf_map_lookup_elem(&scratch, &zero);
	if (e) {
		e->cgroup = event_cgroup_id();
		e->pid = current_tgid();
		e->action = p->action;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->name[0] = e->name2[0] = 0;
		if (user_paths) {
			bpf_probe_read_user_str(e->name, sizeof(e->name), p->path);
			if (p->path2)
				bpf_probe_read_user_str(e->name2, sizeof(e->name2), p->path2);
		} else {
			bpf_probe_read_kernel_str(e->name, NAME_MAX_READ, p->name);
			bpf_probe_read_kernel_str(e->name2, NAME_MAX_READ, p->name2);
		}
		if (e->name[0])
			RINGBUF_OUTPUT(events, e, sizeof(*e));
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* -- tp variant ---------------------------------------------------------------------- */

static __always_inline int path_call(__u32 action, __u64 path, __u64 path2)
{
	struct pending *p = begin(action);

	if (p) {
		p->path = (const char *)path;
		p->path2 = (const char *)path2;
	}
	return 0;
}

#define GONE_EXIT(name)                                                        \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit__tp(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                      \
		return done(ctx->ret, true);                                   \
	}

SEC("tracepoint/syscalls/sys_enter_unlink")
int unlink_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('D', ctx->args[0], 0);
}
GONE_EXIT(unlink)

SEC("tracepoint/syscalls/sys_enter_rmdir")
int rmdir_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('D', ctx->args[0], 0);
}
GONE_EXIT(rmdir)

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('D', ctx->args[1], 0);
}
GONE_EXIT(unlinkat)

SEC("tracepoint/syscalls/sys_enter_rename")
int rename_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('R', ctx->args[0], ctx->args[1]);
}
GONE_EXIT(rename)

SEC("tracepoint/syscalls/sys_enter_renameat")
int renameat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('R', ctx->args[1], ctx->args[3]);
}
GONE_EXIT(renameat)

SEC("tracepoint/syscalls/sys_enter_renameat2")
int renameat2_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return path_call('R', ctx->args[1], ctx->args[3]);
}
GONE_EXIT(renameat2)

/* Variants "btf" and "raw": the same six syscalls through raw_syscalls'
 * sys_enter/sys_exit (two links instead of twelve classic tracepoints, ~40
 * ms each to detach).  sc_action[nr] = kind (1: delete, 2: rename) | the
 * path's argument << 4 | the new path's argument << 8, filled by
 * tools/filegone.py. */
#include "sysnr.bpf.h"

static __always_inline int gone_sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	if ((a & 0xf) == 2)
		return path_call('R', sc_arg(regs, (a >> 4) & 0xf), sc_arg(regs, (a >> 8) & 0xf));
	return path_call('D', sc_arg(regs, (a >> 4) & 0xf), 0);
}

static __always_inline int gone_sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return done(ret, true);
}

SYSNR_PROGRAMS(gone_sc_enter, gone_sc_exit)

/* -- function variants ----------------------------------------------------------------- */

/* vfs_unlink/vfs_rmdir(idmap or userns, dir, dentry, ...) since 5.12 (when
 * vfs_rename() began to take a struct renamedata), (dir, dentry, ...) before */
static __always_inline int unlink_enter(__u64 a1, __u64 a2)
{
	struct pending *p = begin('D');
	struct dentry *d;

	barrier_var(a1);        /* both read: no select on the context's address */
	barrier_var(a2);
	d = (void *)(bpf_core_type_exists(struct renamedata) ? a2 : a1);

	if (p)
		bpf_probe_read_kernel_str(p->name, sizeof(p->name), BPF_CORE_READ(d, d_name.name));
	return 0;
}

static __always_inline int rename_enter(struct renamedata *rd)
{
	struct pending *p = begin('R');

	if (p) {
		bpf_probe_read_kernel_str(p->name, sizeof(p->name),
					  BPF_CORE_READ(rd, old_dentry, d_name.name));
		bpf_probe_read_kernel_str(p->name2, sizeof(p->name2),
					  BPF_CORE_READ(rd, new_dentry, d_name.name));
	}
	return 0;
}

SEC("kprobe/vfs_unlink")
int BPF_KPROBE(unlink__kprobe, __u64 a0, __u64 a1, __u64 a2)
{
	return unlink_enter(a1, a2);
}

SEC("kprobe/vfs_rmdir")
int BPF_KPROBE(rmdir__kprobe, __u64 a0, __u64 a1, __u64 a2)
{
	return unlink_enter(a1, a2);
}

SEC("kprobe/vfs_rename")
int BPF_KPROBE(rename__kprobe, struct renamedata *rd)
{
	return rename_enter(rd);
}

SEC("kretprobe/vfs_unlink")
int BPF_KRETPROBE(unlink_ret__kprobe, long ret)
{
	return done(ret, false);
}

SEC("kretprobe/vfs_rmdir")
int BPF_KRETPROBE(rmdir_ret__kprobe, long ret)
{
	return done(ret, false);
}

SEC("kretprobe/vfs_rename")
int BPF_KRETPROBE(rename_ret__kprobe, long ret)
{
	return done(ret, false);
}

SEC("fentry/vfs_unlink")
int BPF_PROG(unlink__fentry, __u64 a0, __u64 a1, __u64 a2)
{
	return unlink_enter(a1, a2);
}

SEC("fentry/vfs_rmdir")
int BPF_PROG(rmdir__fentry, __u64 a0, __u64 a1, __u64 a2)
{
	return unlink_enter(a1, a2);
}

SEC("fentry/vfs_rename")
int BPF_PROG(rename__fentry, struct renamedata *rd)
{
	return rename_enter(rd);
}

/* The return value follows a number of arguments that changed across
 * kernels: bpf_get_func_ret() (5.17+) finds it. */
SEC("fexit/vfs_unlink")
int BPF_PROG(unlink_ret__fentry)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	return done((int)ret, false);
}

SEC("fexit/vfs_rmdir")
int BPF_PROG(rmdir_ret__fentry)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	return done((int)ret, false);
}

SEC("fexit/vfs_rename")
int BPF_PROG(rename_ret__fentry)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	return done((int)ret, false);
}
