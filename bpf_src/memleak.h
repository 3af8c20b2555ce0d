/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __MEMLEAK_H
#define __MEMLEAK_H

/* an outstanding allocation, by address (kernel page allocations: by pfn) */
struct alloc_info {
	__u64 size;
	__u64 timestamp_ns;
	__s32 stack_id;		/* --unwind dwarf: the CPU of the dump */
	__u32 seq;		/* --unwind dwarf: the dump's number on that CPU */
};

/* per allocation stack: what is still allocated from it */
struct combined_alloc_info {
	__u64 total_size;
	__u64 number_of_allocs;
};

/* -t: one record per allocator call (bcc printed these through trace_pipe) */
enum trace_kind {
	TRACE_ALLOC_ENTER = 0,	/* size */
	TRACE_ALLOC_EXIT = 1,	/* size, address */
	TRACE_FREE = 2,		/* address, size */
};

struct alloc_trace {
	__u64 ts_ns;
	__u64 size;
	__u64 address;
	__u32 pid;
	__u32 cpu;
	__u32 kind;
	char comm[16];
};

#endif
