// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mountsnoop: mount(), umount2(), fsopen(), fsconfig(), fsmount() and
 * move_mount().  Arguments are kept per thread at entry; the strings are
 * read from the caller's memory at return (it is still mapped then). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "containers.bpf.h"
#include "mountsnoop.h"

struct call {
	__u64 args[6];
	__u32 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct call);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct mount_event);

static __always_inline int enter(__u32 op, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
				 __u64 a4)
{
	__u32 tid = current_tid();
	struct call c = { .args = { a0, a1, a2, a3, a4 }, .op = op };

	if (!container_ok())
		return 0;
	bpf_map_update_elem(&start, &tid, &c, BPF_ANY);
	return 0;
}

#define READ_STR(i, size, ptr)                                                 \
	do {                                                                   \
		if (bpf_probe_read_user_str(e->str[i], size, (void *)(ptr)) < 0) \
			e->str[i][0] = 0;                                      \
	} while (0)

static __always_inline int leave(long ret)
{
	struct task_struct *task = current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct mount_event *e;
	struct call *c;
	int i;

	c = bpf_map_lookup_elem(&start, &tid);
	if (!c)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto out;
	e->cgroup = event_cgroup_id();
	for (i = 0; i < 6; i++)
		e->args[i] = c->args[i];
	e->ret = ret;
	e->op = c->op;
	e->pid = id >> 32;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	for (i = 0; i < 4; i++)
		e->str[i][0] = 0;
	switch (c->op) {
	case OP_MOUNT:
		READ_STR(0, MNT_STR_LEN, c->args[0]);   /* source */
		READ_STR(1, MNT_STR_LEN, c->args[1]);   /* target */
		READ_STR(2, MNT_STR_LEN, c->args[2]);   /* type */
		READ_STR(3, MNT_STR_LEN, c->args[4]);   /* data */
		break;
	case OP_UMOUNT:
	case OP_FSOPEN:
		READ_STR(0, MNT_STR_LEN, c->args[0]);
		break;
	case OP_FSCONFIG:
		READ_STR(0, MNT_KEY_LEN, c->args[2]);
		READ_STR(1, MNT_KEY_LEN, c->args[3]);
		break;
	case OP_MOVE_MOUNT:
		READ_STR(0, MNT_PATH_LEN, c->args[1]);
		READ_STR(1, MNT_PATH_LEN, c->args[3]);
		break;
	}
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* A classic syscall tracepoint's record holds only the call's own
 * arguments: reading past them makes the attach fail with EACCES, so each
 * program reads exactly its syscall's count (A2..A5 below). */
#define A2(c) (c)->args[0], (c)->args[1], 0, 0, 0
#define A3(c) (c)->args[0], (c)->args[1], (c)->args[2], 0, 0
#define A5(c) (c)->args[0], (c)->args[1], (c)->args[2], (c)->args[3], (c)->args[4]

#define TP_PAIR(sc, op, nargs)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #sc)                             \
	int sc##_enter__tp(struct trace_event_raw_sys_enter *ctx)             \
	{                                                                      \
		return enter(op, nargs(ctx));                                  \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #sc)                              \
	int sc##_exit__tp(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return leave(ctx->ret);                                        \
	}

TP_PAIR(mount, OP_MOUNT, A5)
TP_PAIR(umount, OP_UMOUNT, A2)       /* umount2(2): the event is named umount */
TP_PAIR(fsopen, OP_FSOPEN, A2)
TP_PAIR(fsconfig, OP_FSCONFIG, A5)
TP_PAIR(fsmount, OP_FSMOUNT, A3)
TP_PAIR(move_mount, OP_MOVE_MOUNT, A5)

#define KP_PAIR(sc, op)                                                        \
	SEC("ksyscall/" #sc)                                                   \
	int BPF_KSYSCALL(sc##_enter__kprobe, unsigned long a0, unsigned long a1, \
			 unsigned long a2, unsigned long a3, unsigned long a4) \
	{                                                                      \
		return enter(op, a0, a1, a2, a3, a4);                          \
	}                                                                      \
	SEC("kretsyscall/" #sc)                                                \
	int BPF_KRETPROBE(sc##_exit__kprobe, long ret)                        \
	{                                                                      \
		return leave(ret);                                             \
	}

KP_PAIR(mount, OP_MOUNT)
KP_PAIR(umount, OP_UMOUNT)
KP_PAIR(fsopen, OP_FSOPEN)
KP_PAIR(fsconfig, OP_FSCONFIG)
KP_PAIR(fsmount, OP_FSMOUNT)
KP_PAIR(move_mount, OP_MOVE_MOUNT)

/* Variants btf and raw: the six syscalls through raw_syscalls' sys_enter/
 * sys_exit and a switch on the number (two links instead of twelve classic
 * tracepoints, ~40 ms each to detach).  sc_action[nr] = enum mount_op + 1,
 * filled by tools/mountsnoop.py. */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	return enter(a - 1, sc_arg(regs, 0), sc_arg(regs, 1), sc_arg(regs, 2),
		     sc_arg(regs, 3), sc_arg(regs, 4));
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return leave(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)
