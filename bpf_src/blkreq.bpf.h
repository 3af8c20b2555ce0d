/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The life of a block request, for biosnoop and biotop: who submitted it
 * (block_io_start runs in the submitter's context), when the driver got it
 * (block_rq_issue, i.e. blk_mq_start_request) and when it completed
 * (block_io_done).  The including file defines blk_done(), called once per
 * completed request that was seen being issued.
 *
 * Variants: tp_btf and raw_tp key requests by their address; classic
 * tracepoints by (dev, direction, sector) as bcc does.  Kernels before
 * block_io_start/done (6.5): tp_btf and raw_tp on block_getrq (the
 * submitter), block_rq_issue and block_rq_complete ("rqbtf", "rqraw");
 * kprobes on the accounting functions, attached by name from Python
 * (tools/_block.py) since those were renamed over time (and are inlined
 * from 5.16 on, where only the tracepoints can serve). */
#ifndef __BLKREQ_BPF_H
#define __BLKREQ_BPF_H

#include "blk.bpf.h"
#include "cgroupid.bpf.h"

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
	__u64 cgroup;   /* the submitter's (--containers) */
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
	__u64 cgroup;   /* the submitter's (--containers), 0 if not seen */
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

/* Remember who submitted the request (or bio) `k` (any disk). */
static __always_inline int blk_who_record(struct blk_key *k)
{
	struct blk_who w = {};

	w.pid = current_tgid();
	if (targ_tgid && w.pid != targ_tgid)
		return 0;
	w.cgroup = event_cgroup_id();
	if (targ_queued)
		w.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	bpf_map_update_elem(&blk_who, k, &w, BPF_ANY);
	return 0;
}

static __always_inline int blk_submitted(struct blk_key *k)
{
	if (targ_dev && k->dev != targ_dev)
		return 0;
	return blk_who_record(k);
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
		d.cgroup = w->cgroup;
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

/* Before block_io_start/done (6.5).  block_getrq fires in blk_mq_submit_bio,
 * in the submitter's context, right before the new request is accounted
 * (where bcc probes blk_account_io_start, inlined since 5.16); it passes
 * the bio, which is still the request's first (rq->bio) when the request is
 * issued: the submitter moves from the bio's key to the request's there.
 * Its arguments were (q, bio, rw) until 5.11, (bio) since. */
TP_NARGS_DECLARE(block_getrq);

static __always_inline int bio_submitted(unsigned long long *ctx)
{
	struct blk_key k = {};

	k.rq = TP_NARGS(block_getrq) > 1 ? TP_ARG(ctx, 1) : TP_ARG(ctx, 0);
	return blk_who_record(&k);
}

static __always_inline int rq_issued(struct request *rq)
{
	struct blk_key k, b = {};
	struct blk_who *w;

	rq_key(&k, rq);
	b.rq = (__u64)BPF_CORE_READ(rq, bio);
	w = bpf_map_lookup_elem(&blk_who, &b);
	if (w) {
		if (!targ_dev || k.dev == targ_dev)
			bpf_map_update_elem(&blk_who, &k, w, BPF_ANY);
		bpf_map_delete_elem(&blk_who, &b);
	}
	return blk_issued(&k, BPF_CORE_READ(rq, __data_len));
}

static __always_inline int rq_completed(struct request *rq)
{
	struct blk_key k;

	rq_key(&k, rq);
	return blk_completed(&k);
}

#define BLK_RQ_OLD_PROGRAMS(sec, suffix)                                       \
	SEC(sec "/block_getrq")                                                \
	int issuer__##suffix(unsigned long long *ctx)                          \
	{                                                                      \
		return bio_submitted(ctx);                                     \
	}                                                                      \
	SEC(sec "/block_rq_issue")                                             \
	int BPF_PROG(start__##suffix, struct request *rq)                      \
	{                                                                      \
		return rq_issued(rq);                                          \
	}                                                                      \
	SEC(sec "/block_rq_complete")                                          \
	int BPF_PROG(done__##suffix, struct request *rq)                       \
	{                                                                      \
		return rq_completed(rq);                                       \
	}

BLK_RQ_OLD_PROGRAMS("tp_btf", rqbtf)
BLK_RQ_OLD_PROGRAMS("raw_tp", rqraw)

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
