/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The syscall number at raw_syscalls' sys_exit, from the registers.
 * Include after corebpf.bpf.h. */
#ifndef __SCNR_BPF_H
#define __SCNR_BPF_H

/* sys_exit's BTF arguments are (regs, ret): the number is in the registers. */
static __always_inline long sc_regs_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno);
#else
	return -1;
#endif
}

/* The same for tp_btf programs, whose regs is a typed kernel pointer: a
 * direct load (no bpf_probe_read_kernel call; raw_tp programs cannot). */
static __always_inline long sc_btf_regs_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
	return -1;
#endif
}

#endif /* __SCNR_BPF_H */
