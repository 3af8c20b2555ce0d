// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* shmsnoop: shmget/shmat/shmdt/shmctl from raw_syscalls (variants btf,
 * raw) or the syscalls' own tracepoints (variant tp); the
 * arguments are kept per thread at entry, the record sent at exit with the
 * result. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "shmsnoop.h"

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;      /* trumps targ_tgid (bcc's -t) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct shm_event);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct shm_event);

static __always_inline int enter(__u64 sys, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct shm_event e = { .id = id, .sys = sys, .cgroup = event_cgroup_id() };

	if (targ_tid ? tid != targ_tid : targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	switch (sys) {
	case SYS_SHMGET:
		e.key = a0;
		e.size = a1;
		e.shmflg = a2;
		break;
	case SYS_SHMAT:
		e.shmid = a0;
		e.shmaddr = a1;
		e.shmflg = a2;
		break;
	case SYS_SHMDT:
		e.shmaddr = a0;
		break;
	default:
		e.shmid = a0;
		e.cmd = a1;
		e.buf = a2;
	}
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&start, &tid, &e, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u32 tid = current_tid();
	struct shm_event *e = bpf_map_lookup_elem(&start, &tid);

	if (!e)
		return 0;
	e->ret = ret;
	e->ts_us = bpf_ktime_get_ns() / 1000;
	RINGBUF_OUTPUT(events, e, sizeof(*e));
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* Variant "tp": the syscalls' own tracepoints (the fallback). */
#define SHM_SYSCALL(name, sys)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter__tp(struct trace_event_raw_sys_enter *ctx)            \
	{                                                                      \
		return enter(sys, ctx->args[0], ctx->args[1], ctx->args[2]);  \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit__tp(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                      \
		return leave(ctx->ret);                                        \
	}

SHM_SYSCALL(shmget, SYS_SHMGET)
SHM_SYSCALL(shmat, SYS_SHMAT)
SHM_SYSCALL(shmdt, SYS_SHMDT)
SHM_SYSCALL(shmctl, SYS_SHMCTL)

/* Variants "btf" and "raw": the four through raw_syscalls' sys_enter/
 * sys_exit (two links instead of eight classic tracepoints, ~40 ms each to
 * detach).  sc_action[nr] = enum shm_sys + 1, filled by tools/shmsnoop.py. */
#include "sysnr.bpf.h"

static __always_inline int shm_sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	return enter(a - 1, sc_arg(regs, 0), sc_arg(regs, 1), sc_arg(regs, 2));
}

static __always_inline int shm_sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return leave(ret);
}

SYSNR_PROGRAMS(shm_sc_enter, shm_sc_exit)
