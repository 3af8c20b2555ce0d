/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Many syscalls through two hooks: raw_syscalls' sys_enter/sys_exit (tp_btf
 * or raw_tp) and a switch on the syscall number, instead of one classic
 * syscalls:sys_enter_X/sys_exit_X tracepoint per syscall.  Detaching a
 * classic tracepoint costs ~40 ms (the kernel takes them one at a time under
 * its event_mutex), so a tool with 30 of them needed over a second to exit.
 *
 * sc_action[nr] says what a tool does with syscall nr (0: nothing).  Numbers
 * differ per architecture: Python fills the map after load from
 * corebpf.syscalls for the running machine (tools/_cli.fill_syscall_actions),
 * never from numbers compiled in here.  Tools keep their per-syscall
 * tracepoint programs as the fallback variant (__tp).
 *
 * 32-bit (compat) tasks are skipped: their numbers and argument registers
 * are another table's, and the per-syscall tracepoints skip them too.
 * Include after corebpf.bpf.h. */
#ifndef __SYSNR_BPF_H
#define __SYSNR_BPF_H

#define SYSNR_MAX 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSNR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} sc_action SEC(".maps");

static __always_inline __u32 sc_action_of(long nr)
{
	__u32 key = nr, *a;

	if (nr < 0 || nr >= SYSNR_MAX)
		return 0;
	a = bpf_map_lookup_elem(&sc_action, &key);
	return a ? *a : 0;
}

#include "scnr.bpf.h"

/* Argument i (0-4) of the syscall being entered. */
static __always_inline unsigned long sc_arg(struct pt_regs *regs, int i)
{
	if (i == 0)
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	if (i == 1)
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (i == 2)
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	if (i == 3)
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	return PT_REGS_PARM5_CORE_SYSCALL(regs);
}

struct thread_info___x86 { __u32 status; } __attribute__((preserve_access_index));
struct task_struct___ti { struct thread_info___x86 thread_info; } __attribute__((preserve_access_index));
struct thread_info___arm64 { unsigned long flags; } __attribute__((preserve_access_index));
struct task_struct___tia { struct thread_info___arm64 thread_info; } __attribute__((preserve_access_index));

/* A 32-bit task's syscall (x86: TS_COMPAT in thread_info.status; arm64:
 * TIF_32BIT in thread_info.flags). */
static __always_inline bool sc_compat(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct___ti *t = (void *)current_task();

	if (!bpf_core_field_exists(t->thread_info.status))
		return false;
	if (HAVE_TASK_BTF)      /* typed: a direct load, no helper call */
		return t->thread_info.status & 0x0002;
	return BPF_CORE_READ(t, thread_info.status) & 0x0002;
#elif defined(__TARGET_ARCH_arm64)
	struct task_struct___tia *t = (void *)current_task();

	if (HAVE_TASK_BTF)
		return t->thread_info.flags & (1UL << 22);
	return BPF_CORE_READ(t, thread_info.flags) & (1UL << 22);
#else
	return false;
#endif
}

/* The four programs of the btf and raw variants, calling a tool's
 * enter(regs, nr) and exit(regs, ret). */
#define SYSNR_PROGRAMS(enter, exit)                                            \
	SEC("tp_btf/sys_enter")                                                \
	int BPF_PROG(sys_enter__btf, struct pt_regs *regs, long nr)            \
	{ return enter(regs, nr); }                                            \
	SEC("tp_btf/sys_exit")                                                 \
	int BPF_PROG(sys_exit__btf, struct pt_regs *regs, long ret)            \
	{ return exit(regs, ret); }                                            \
	SEC("raw_tp/sys_enter")                                                \
	int BPF_PROG(sys_enter__raw, struct pt_regs *regs, long nr)            \
	{ return enter(regs, nr); }                                            \
	SEC("raw_tp/sys_exit")                                                 \
	int BPF_PROG(sys_exit__raw, struct pt_regs *regs, long ret)            \
	{ return exit(regs, ret); }

#endif /* __SYSNR_BPF_H */
