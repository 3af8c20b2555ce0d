/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Block layer helpers shared by the bio* tools and bitesize: the disk and
 * device number of a request, its direction, bcc's flag encoding.  Device
 * numbers use the kernel's internal dev_t (major << 20 | minor), as the
 * block tracepoints' `dev` field does, so Python maps both the same way
 * (through /proc/diskstats). */
#ifndef __BLK_BPF_H
#define __BLK_BPF_H

#define BLK_MINORBITS 20
#define BLK_REQ_OP_BITS 8       /* REQ_OP_BITS since 4.10 */

/* bcc's request-flag encoding (biolatency -F), which bcc_flags() translates
 * the running kernel's flags into. */
#define BCC_REQ_SYNC (1u << (BLK_REQ_OP_BITS + 3))
#define BCC_REQ_META (1u << (BLK_REQ_OP_BITS + 4))
#define BCC_REQ_PRIO (1u << (BLK_REQ_OP_BITS + 5))
#define BCC_REQ_NOMERGE (1u << (BLK_REQ_OP_BITS + 6))
#define BCC_REQ_IDLE (1u << (BLK_REQ_OP_BITS + 7))
#define BCC_REQ_FUA (1u << (BLK_REQ_OP_BITS + 9))
#define BCC_REQ_RAHEAD (1u << (BLK_REQ_OP_BITS + 11))
#define BCC_REQ_BACKGROUND (1u << (BLK_REQ_OP_BITS + 12))
#define BCC_REQ_NOWAIT (1u << (BLK_REQ_OP_BITS + 13))

/* Kernels before 5.17 kept the disk in the request itself. */
struct request___old {
	struct gendisk *rq_disk;
};

static __always_inline struct gendisk *rq_disk(struct request *rq)
{
	struct request___old *old = (void *)rq;

	if (bpf_core_field_exists(old->rq_disk))
		return BPF_CORE_READ(old, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = rq_disk(rq);

	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << BLK_MINORBITS) | BPF_CORE_READ(disk, first_minor);
}

/* The operations were enum req_opf until 6.0 renamed it enum req_op. */
enum req_opf___old {
	REQ_OP_READ___old,
	REQ_OP_WRITE___old,
	REQ_OP_FLUSH___old,
	REQ_OP_DISCARD___old,
	REQ_OP_SECURE_ERASE___old,
	REQ_OP_ZONE_RESET___old,
	REQ_OP_WRITE_ZEROES___old,
};

/* The running kernel's value of request operation `op` (REQ_OP_WRITE, ...). */
#define REQ_OP(op)                                                             \
	(bpf_core_enum_value_exists(enum req_op, op) ?                         \
	 bpf_core_enum_value(enum req_op, op) :                                \
	 bpf_core_enum_value(enum req_opf___old, op##___old))

/* 1 for a write request (bcc's "W"), 0 for everything else ("R"). */
static __always_inline __u8 rq_is_write(struct request *rq)
{
	__u32 op = BPF_CORE_READ(rq, cmd_flags) & ((1u << BLK_REQ_OP_BITS) - 1);

	return op == REQ_OP(REQ_OP_WRITE);
}

/* The same from a classic tracepoint's rwbs text (blk_fill_rwbs: an optional
 * 'F' for a preflush, then the operation letter, 'W' for writes).  Copied
 * out first: the verifier refuses reads through a moved context pointer. */
static __always_inline __u8 rwbs_is_write(const char *ctx_rwbs)
{
	char rwbs[2];

	if (bpf_probe_read_kernel(rwbs, sizeof(rwbs), ctx_rwbs))
		return 0;
	return rwbs[0] == 'W' || (rwbs[0] == 'F' && rwbs[1] == 'W');
}

#define BCC_FLAG(bit, bcc)                                                     \
	if (bpf_core_enum_value_exists(enum req_flag_bits, bit) &&             \
	    (f & (1u << bpf_core_enum_value(enum req_flag_bits, bit))))        \
		out |= bcc

/* Translate the running kernel's cmd_flags into bcc's fixed encoding. */
static __always_inline __u32 bcc_flags(__u32 f)
{
	__u32 op = f & ((1u << BLK_REQ_OP_BITS) - 1), out;

	if (op == REQ_OP(REQ_OP_READ))
		out = 0;
	else if (op == REQ_OP(REQ_OP_WRITE))
		out = 1;
	else if (op == REQ_OP(REQ_OP_FLUSH))
		out = 2;
	else if (op == REQ_OP(REQ_OP_DISCARD))
		out = 3;
	else if (op == REQ_OP(REQ_OP_SECURE_ERASE))
		out = 5;
	else if (op == REQ_OP(REQ_OP_ZONE_RESET))
		out = 6;
	else if (op == REQ_OP(REQ_OP_WRITE_ZEROES))
		out = 9;
	else
		out = 0xff;
	BCC_FLAG(__REQ_SYNC, BCC_REQ_SYNC);
	BCC_FLAG(__REQ_META, BCC_REQ_META);
	BCC_FLAG(__REQ_PRIO, BCC_REQ_PRIO);
	BCC_FLAG(__REQ_NOMERGE, BCC_REQ_NOMERGE);
	BCC_FLAG(__REQ_IDLE, BCC_REQ_IDLE);
	BCC_FLAG(__REQ_FUA, BCC_REQ_FUA);
	BCC_FLAG(__REQ_RAHEAD, BCC_REQ_RAHEAD);
	BCC_FLAG(__REQ_BACKGROUND, BCC_REQ_BACKGROUND);
	BCC_FLAG(__REQ_NOWAIT, BCC_REQ_NOWAIT);
	return out;
}

#endif /* __BLK_BPF_H */
