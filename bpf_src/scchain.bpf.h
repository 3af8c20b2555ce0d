/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-syscall programs of several objects run as one chain (the exporter:
 * ext4dist, vfsstat and syscount on raw_syscalls' sys_enter/sys_exit).
 * Entering an attached program costs ~55 ns more than a tail call on this
 * host (a getppid loop, 3 near-empty tp_btf programs: 390 ns attached
 * side by side, 281 ns chained), so the exporter attaches one program per
 * hook and puts the next object's program in slot 0 of its slot map
 * (corebpf/exporter/collectors.py: chain_syscalls).  A tool alone leaves
 * the slot empty: the tail call falls through.
 * One slot map per hook and per program type (sc_next_enter_btf for the
 * tp_btf variant, sc_next_enter_raw for raw_tp, ...): the kernel ties a prog
 * array to the type of the first program that loads with it and refuses a
 * program of another type using it, so one map shared by an object's
 * tp_btf and raw_tp variants failed to load both at once (the tests that
 * load every program of every object).
 * Include after corebpf.bpf.h; end each sys_enter / sys_exit program with
 * `return SC_NEXT(enter, btf)` (hook enter/exit, variant btf/raw). */
#ifndef __SCCHAIN_BPF_H
#define __SCCHAIN_BPF_H

#define SC_SLOT_MAP(name)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);			\
		__uint(max_entries, 1);					\
		__type(key, __u32);					\
		__type(value, __u32);					\
	} name SEC(".maps")

SC_SLOT_MAP(sc_next_enter_btf);
SC_SLOT_MAP(sc_next_exit_btf);
SC_SLOT_MAP(sc_next_enter_raw);
SC_SLOT_MAP(sc_next_exit_raw);

/* the next program of the chain, if any (a tail call does not return) */
#define SC_NEXT(hook, variant) (bpf_tail_call(ctx, &sc_next_##hook##_##variant, 0), 0)

#endif /* __SCCHAIN_BPF_H */
