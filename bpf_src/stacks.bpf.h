/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Stack trace maps and id-set filters shared by the stack tools (profile,
 * offcputime, ...).  Python reads the maps with corebpf.maps.Map.stack()
 * and prints them with corebpf.stacks / corebpf.syms. */
#ifndef __COREBPF_STACKS_BPF_H
#define __COREBPF_STACKS_BPF_H

/* The kernel's default kernel.perf_event_max_stack: the deepest stack a
 * stack map value may hold. */
#define MAX_STACK_DEPTH 127

/* A BPF_MAP_TYPE_STACK_TRACE map; Python resizes it (--stack-storage-size)
 * before load through Map.max_entries. */
#define STACK_TRACE_MAP(name, entries)                                         \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                        \
		__uint(max_entries, entries);                                  \
		__uint(key_size, sizeof(__u32));                               \
		__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));           \
	} name SEC(".maps")

/* A set of u32 ids (PIDs, TIDs) filled from Python before attach. */
#define ID_SET_MAP(name, entries)                                              \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, entries);                                  \
		__type(key, __u32);                                            \
		__type(value, __u8);                                           \
	} name SEC(".maps")

static __always_inline bool id_in_set(void *set, __u32 id)
{
	return bpf_map_lookup_elem(set, &id) != NULL;
}

#endif /* __COREBPF_STACKS_BPF_H */
