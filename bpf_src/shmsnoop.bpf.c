// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* shmsnoop: shmget/shmat/shmdt/shmctl from the syscall tracepoints; the
 * arguments are kept per thread at entry, the record sent at exit with the
 * result. */
#include "corebpf.bpf.h"
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

static __always_inline int enter(__u64 sys, struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct shm_event e = { .id = id, .sys = sys };

	if (targ_tid ? tid != targ_tid : targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	switch (sys) {
	case SYS_SHMGET:
		e.key = ctx->args[0];
		e.size = ctx->args[1];
		e.shmflg = ctx->args[2];
		break;
	case SYS_SHMAT:
		e.shmid = ctx->args[0];
		e.shmaddr = ctx->args[1];
		e.shmflg = ctx->args[2];
		break;
	case SYS_SHMDT:
		e.shmaddr = ctx->args[0];
		break;
	default:
		e.shmid = ctx->args[0];
		e.cmd = ctx->args[1];
		e.buf = ctx->args[2];
	}
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&start, &tid, &e, BPF_ANY);
	return 0;
}

static __always_inline int leave(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = current_tid();
	struct shm_event *e = bpf_map_lookup_elem(&start, &tid);

	if (!e)
		return 0;
	e->ret = ctx->ret;
	e->ts_us = bpf_ktime_get_ns() / 1000;
	RINGBUF_OUTPUT(events, e, sizeof(*e));
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#define SHM_SYSCALL(name, sys)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int name##_enter(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                      \
		return enter(sys, ctx);                                        \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int name##_exit(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return leave(ctx);                                             \
	}

SHM_SYSCALL(shmget, SYS_SHMGET)
SHM_SYSCALL(shmat, SYS_SHMAT)
SHM_SYSCALL(shmdt, SYS_SHMDT)
SHM_SYSCALL(shmctl, SYS_SHMCTL)
