// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* statsnoop: stat-family syscalls.  The path pointer is kept per thread at
 * entry; the record is built at return.  Variants: syscall tracepoints,
 * and kprobes on the syscall functions (kernels without syscall
 * tracepoints).  Python disables the hooks this kernel lacks. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "statsnoop.h"

const volatile __s32 targ_tgid = 0;
const volatile bool targ_failed = false;

struct args {
	const char *fname;
	__u32 call;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct stat_event);

static __always_inline int enter(const char *fname, __u32 call)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args a = { .fname = fname, .call = call };

	if (targ_tgid && targ_tgid != (id >> 32))
		return 0;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u32 tid = current_tid();
	struct stat_event *e;
	struct args *a;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	if (targ_failed && ret >= 0)
		goto out;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto out;
	e->ts = bpf_ktime_get_ns();
	e->cgroup = event_cgroup_id();
	e->pid = current_tgid();
	e->ret = ret;
	e->call = a->call;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = 0;
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#define TP_PAIR(sc, arg, call)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##_enter__tp(struct trace_event_raw_sys_enter *ctx)             \
	{                                                                      \
		return enter((const char *)ctx->args[arg], call);             \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #sc)                              \
	int sc##_exit__tp(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return leave(ctx->ret);                                        \
	}

TP_PAIR(statfs, 0, SC_STATFS)
TP_PAIR(newstat, 0, SC_NEWSTAT)
TP_PAIR(newlstat, 0, SC_NEWLSTAT)
TP_PAIR(newfstatat, 1, SC_NEWFSTATAT)
TP_PAIR(statx, 1, SC_STATX)

/* ksyscall resolves the architecture's syscall wrapper (__x64_sys_...). */
#define KP_PAIR(sc, call, ...)                                                 \
	SEC("ksyscall/" #sc)                                                   \
	int BPF_KSYSCALL(sc##_enter__kprobe, __VA_ARGS__)                     \
	{                                                                      \
		return enter(path, call);                                      \
	}                                                                      \
	SEC("kretsyscall/" #sc)                                                \
	int BPF_KRETPROBE(sc##_exit__kprobe, long ret)                        \
	{                                                                      \
		return leave(ret);                                             \
	}

KP_PAIR(statfs, SC_STATFS, const char *path)
KP_PAIR(newstat, SC_NEWSTAT, const char *path)
KP_PAIR(newlstat, SC_NEWLSTAT, const char *path)
KP_PAIR(newfstatat, SC_NEWFSTATAT, int dfd, const char *path)
KP_PAIR(statx, SC_STATX, int dfd, const char *path)

/* Variants btf and raw: the five syscalls through raw_syscalls' sys_enter/
 * sys_exit and a switch on the number (two links instead of ten classic
 * tracepoints, ~40 ms each to detach).  sc_action[nr] = the path argument's
 * index << 8 | enum stat_call, filled by tools/statsnoop.py. */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	return enter((const char *)sc_arg(regs, (a >> 8) & 3), a & 0xff);
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return leave(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)
