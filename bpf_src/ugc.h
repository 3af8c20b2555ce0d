/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __UGC_H
#define __UGC_H

/* what a begin/end probe pair carries */
enum gc_kind {
	GC_PLAIN = 0,		/* nothing (java gc__begin, ruby mark/sweep) */
	GC_PYTHON = 1,		/* begin: generation; end: objects collected */
	GC_JAVA_POOL = 2,	/* manager, pool, used and max bytes */
	GC_NODE = 3,		/* end: gc type flags */
};

struct gc_event {
	__u64 cgroup;		/* --containers: cgroupid.bpf.h's event_cgroup_id() */
	__u64 probe;		/* index of the begin/end pair (the cookie) */
	__u64 elapsed_ns;
	__u64 field1;
	__u64 field2;
	__u64 field3;
	__u64 field4;
	char string1[32];
	char string2[32];
};

#endif
