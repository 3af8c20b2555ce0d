/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __UOBJNEW_H
#define __UOBJNEW_H

struct alloc_key {
	__u64 size;		/* C: the malloc() size; 0 otherwise */
	char name[56];		/* type name (java, ruby, tcl) */
};

struct alloc_val {
	__u64 total_size;
	__u64 num_allocs;
};

#endif
