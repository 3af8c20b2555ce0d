// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* syncsnoop: sync-family syscall entries.  Variants: syscall tracepoints,
 * or kprobes on the syscall functions where those tracepoints are absent. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "syncsnoop.h"

EVENTS_RINGBUF(events, 1 << 18, struct sync_event);

static __always_inline int emit(__u32 call)
{
	struct sync_event *e = RINGBUF_RESERVE(events, sizeof(*e));

	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->cgroup = event_cgroup_id();
	e->call = call;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define SYNC_HOOK(sc, call)                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##__tp(void *ctx) { return emit(call); }                         \
	SEC("ksyscall/" #sc)                                                   \
	int sc##__kprobe(void *ctx) { return emit(call); }

SYNC_HOOK(sync, SYNC_SYNC)
SYNC_HOOK(fsync, SYNC_FSYNC)
SYNC_HOOK(fdatasync, SYNC_FDATASYNC)
SYNC_HOOK(msync, SYNC_MSYNC)
SYNC_HOOK(sync_file_range, SYNC_FILE_RANGE)
SYNC_HOOK(sync_file_range2, SYNC_FILE_RANGE)   /* arm, powerpc */
SYNC_HOOK(syncfs, SYNC_SYNCFS)

/* Variants btf and raw: the sync syscalls through raw_syscalls' sys_enter and
 * a switch on the number (one link instead of six classic tracepoints, ~40
 * ms each to detach).  sc_action[nr] = enum sync_call, filled by
 * tools/syncsnoop.py. */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(long nr)
{
	__u32 call = sc_action_of(nr);

	if (!call || sc_compat())
		return 0;
	return emit(call);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter__btf, struct pt_regs *regs, long nr) { return sc_enter(nr); }

SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter__raw, struct pt_regs *regs, long nr) { return sc_enter(nr); }
