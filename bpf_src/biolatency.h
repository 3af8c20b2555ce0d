/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOLATENCY_H
#define __BIOLATENCY_H

/* bcc's request-flag encoding (biolatency.py), which the BPF side
 * translates the running kernel's flags into. */
#define BCC_REQ_OP_BITS 8
#define BCC_REQ_SYNC (1u << (BCC_REQ_OP_BITS + 3))
#define BCC_REQ_META (1u << (BCC_REQ_OP_BITS + 4))
#define BCC_REQ_PRIO (1u << (BCC_REQ_OP_BITS + 5))
#define BCC_REQ_NOMERGE (1u << (BCC_REQ_OP_BITS + 6))
#define BCC_REQ_IDLE (1u << (BCC_REQ_OP_BITS + 7))
#define BCC_REQ_FUA (1u << (BCC_REQ_OP_BITS + 9))
#define BCC_REQ_RAHEAD (1u << (BCC_REQ_OP_BITS + 11))
#define BCC_REQ_BACKGROUND (1u << (BCC_REQ_OP_BITS + 12))
#define BCC_REQ_NOWAIT (1u << (BCC_REQ_OP_BITS + 13))

struct hist_key {
	__u32 dev;      /* major << 20 | minor, with per-disk histograms */
	__u32 flags;    /* bcc-encoded, with per-flag histograms */
};

struct hist {
	__u64 slots[65];
	__u64 total;    /* sum of latencies, in the histogram's unit */
	__u64 count;
};

#endif
