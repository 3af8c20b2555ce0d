/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The life of a block request, for biosnoop and biotop: who submitted it
 * (block_io_start runs in the submitter's context), when the driver got it
 * (block_rq_issue, i.e. blk_mq_start_request) and when it completed
 * (block_io_done).  The including file defines blk_done(), called once per
 * completed request that was seen being issued.
 *
 * Variants: tp_btf and raw_tp key requests by their address; classic
 * tracepoints by (dev, direction, sector) as bcc does; kprobes (kernels
 * before block_io_start/done, 6.5) on the accounting functions, attached by
 * name from Python (tools/_block.py) since those were renamed over time. */
#ifndef __BLKREQ_BPF_H
#define __BLKREQ_BPF_H

#include "blk.bpf.h"

const volatile __u32 targ_dev = 0;      /* only this disk (0: all) */
const volatile __u32 targ_tgid = 0;     /* only I/O submitted by this process */
const volatile bool targ_queued = false;/* time from submission to issue */

struct blk_key {
	__u64 rq;       /* struct request *, or 0 with classic tracepoints */
	__u32 dev;
	__u32 rwflag;
	__u64 sector;
};

struct blk_who {
	__u64 ts;
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct blk_start {
	__u64 ts;
	__u64 len;
	__u64 sector;
	__u32 dev;
	__u32 rwflag;
};

/* What blk_done() gets. */
struct blk_done {
	__u64 ts;       /* completion time, ns */
	__u64 delta;    /* issue -> completion, ns */
	__u64 qdelta;   /* submission -> issue, ns (with targ_queued) */
	__u64 sector;
	__u64 len;      /* bytes, as issued */
	__u32 dev;
	__u32 pid;
	__u8 rwflag;
	__u8 has_who;   /* the submitter was seen (pid, comm valid) */
	char comm[TASK_COMM_LEN];
};

static __always_inline void blk_done(const struct blk_done *d);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);    /* merged-away requests never complete */
	__uint(max_entries, 10240);
	__type(key, struct blk_key);
	__type(value, struct blk_who);
} blk_who SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct blk_key);
	__type(value, struct blk_start);
} blk_start SEC(".maps");

static __always_inline int blk_submitted(struct blk_key *k)
{
	struct blk_who w = {};

	if (targ_dev && k->dev != targ_dev)
		return 0;
	w.pid = current_tgid();
	if (targ_tgid && w.pid != targ_tgid)
		return 0;
	if (targ_queued)
		w.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	bpf_map_update_elem(&blk_who, k, &w, BPF_ANY);
	return 0;
}

static __always_inline int blk_issued(struct blk_key *k, __u64 len)
{
	struct blk_start s = {};

	if (targ_dev && k->dev != targ_dev)
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.len = len;
	s.sector = k->sector;
	s.dev = k->dev;
	s.rwflag = k->rwflag;
	bpf_map_update_elem(&blk_start, k, &s, BPF_ANY);
	return 0;
}

static __always_inline int blk_completed(struct blk_key *k)
{
	struct blk_done d = {};
	struct blk_start *s;
	struct blk_who *w;
	__u64 now;

	s = bpf_map_lookup_elem(&blk_start, k);
	if (!s)
		goto out;               /* issued before we started, or filtered */
	w = bpf_map_lookup_elem(&blk_who, k);
	if (targ_tgid && !w)
		goto out;
	now = bpf_ktime_get_ns();
	d.ts = now;
	d.delta = now > s->ts ? now - s->ts : 0;
	d.len = s->len;
	d.sector = s->sector;
	d.dev = s->dev;
	d.rwflag = s->rwflag;
	if (w) {
		d.has_who = 1;
		d.pid = w->pid;
		__builtin_memcpy(d.comm, w->comm, sizeof(d.comm));
		if (targ_queued && w->ts && s->ts > w->ts)
			d.qdelta = s->ts - w->ts;
	}
	blk_done(&d);
out:
	bpf_map_delete_elem(&blk_start, k);
	bpf_map_delete_elem(&blk_who, k);
	return 0;
}

static __always_inline void rq_key(struct blk_key *k, struct request *rq)
{
	k->rq = (__u64)rq;
	k->dev = rq_dev(rq);
	k->rwflag = rq_is_write(rq);
	k->sector = BPF_CORE_READ(rq, __sector);
}

static __always_inline void tp_key(struct blk_key *k, struct trace_event_raw_block_rq *ctx)
{
	k->rq = 0;
	k->dev = ctx->dev;
	k->rwflag = rwbs_is_write(ctx->rwbs);
	k->sector = ctx->sector;
}

#define BLK_RQ_PROGRAMS(sec, suffix)                                           \
	SEC(sec "/block_io_start")                                             \
	int BPF_PROG(issuer__##suffix, struct request *rq)                     \
	{                                                                      \
		struct blk_key k;                                              \
		rq_key(&k, rq);                                                \
		return blk_submitted(&k);                                      \
	}                                                                      \
	SEC(sec "/block_rq_issue")                                             \
	int BPF_PROG(start__##suffix, struct request *rq)                      \
	{                                                                      \
		struct blk_key k;                                              \
		rq_key(&k, rq);                                                \
		return blk_issued(&k, BPF_CORE_READ(rq, __data_len));          \
	}                                                                      \
	SEC(sec "/block_io_done")                                              \
	int BPF_PROG(done__##suffix, struct request *rq)                       \
	{                                                                      \
		struct blk_key k;                                              \
		rq_key(&k, rq);                                                \
		return blk_completed(&k);                                      \
	}

BLK_RQ_PROGRAMS("tp_btf", btf)
BLK_RQ_PROGRAMS("raw_tp", raw)

SEC("tracepoint/block/block_io_start")
int issuer__tp(struct trace_event_raw_block_rq *ctx)
{
	struct blk_key k;

	tp_key(&k, ctx);
	return blk_submitted(&k);
}

SEC("tracepoint/block/block_rq_issue")
int start__tp(struct trace_event_raw_block_rq *ctx)
{
	struct blk_key k;

	tp_key(&k, ctx);
	return blk_issued(&k, ctx->bytes);
}

SEC("tracepoint/block/block_io_done")
int done__tp(struct trace_event_raw_block_rq *ctx)
{
	struct blk_key k;

	tp_key(&k, ctx);
	return blk_completed(&k);
}

/* Attach targets chosen in tools/_block.py (__blk_account_io_start or
 * blk_account_io_start, blk_mq_start_request, [__]blk_account_io_done). */
SEC("kprobe")
int BPF_KPROBE(issuer__kprobe, struct request *rq)
{
	struct blk_key k;

	rq_key(&k, rq);
	return blk_submitted(&k);
}

SEC("kprobe")
int BPF_KPROBE(start__kprobe, struct request *rq)
{
	struct blk_key k;

	rq_key(&k, rq);
	return blk_issued(&k, BPF_CORE_READ(rq, __data_len));
}

SEC("kprobe")
int BPF_KPROBE(done__kprobe, struct request *rq)
{
	struct blk_key k;

	rq_key(&k, rq);
	return blk_completed(&k);
}

#endif /* __BLKREQ_BPF_H */
