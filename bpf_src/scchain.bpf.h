/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-syscall programs of several objects run as one chain (the exporter:
 * ext4dist, vfsstat and syscount on raw_syscalls' sys_enter/sys_exit).
 * Entering an attached program costs ~55 ns more than a tail call on this
 * host (a getppid loop, 3 near-empty tp_btf programs: 390 ns attached
 * side by side, 281 ns chained), so the exporter attaches one program per
 * hook and puts the next object's program in slot 0 of sc_next_enter /
 * sc_next_exit (corebpf/exporter/collectors.py: chain_syscall_programs).
 * A tool alone leaves the slot empty: the tail call falls through.
 * Include after corebpf.bpf.h; end each sys_enter / sys_exit program with
 * `return SC_NEXT(sc_next_enter)` (or sc_next_exit). */
#ifndef __SCCHAIN_BPF_H
#define __SCCHAIN_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sc_next_enter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sc_next_exit SEC(".maps");

/* the next program of the chain, if any (a tail call does not return) */
#define SC_NEXT(map) (bpf_tail_call(ctx, &(map), 0), 0)

#endif /* __SCCHAIN_BPF_H */
