/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOSNOOP_H
#define __BIOSNOOP_H

#define PATTERN_UNKNOWN 0
#define PATTERN_SEQUENTIAL 1
#define PATTERN_RANDOM 2

struct bio_event {
	__u64 cgroup;   /* the submitter's (--containers) */
	__u64 ts;       /* completion, ns since boot */
	__u64 delta;    /* issue -> completion, ns */
	__u64 qdelta;   /* submission -> issue, ns (-Q) */
	__u64 sector;
	__u64 len;      /* bytes */
	__u32 pid;
	__u32 dev;
	__u8 rwflag;    /* 1: write */
	__u8 pattern;   /* PATTERN_* (-P) */
	__u8 has_who;   /* pid/comm known */
	char comm[16];
};

#endif
