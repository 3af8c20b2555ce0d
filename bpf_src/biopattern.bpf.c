// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biopattern: random vs sequential block I/O per disk, from request
 * completions (bcc's block:block_rq_complete).  Variants: tp_btf (the
 * request: disk, position; the bytes completed) and the classic tracepoint
 * (its dev/sector/nr_sector fields). */
#include "corebpf.bpf.h"
#include "blk.bpf.h"
#include "biopattern.h"

const volatile __u32 targ_dev = 0;      /* -d: 0 = every disk */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

static struct counter zero;

static __always_inline int complete(__u32 dev, __u64 sector, __u32 nr_sector)
{
	struct counter *c;

	if (targ_dev && dev != targ_dev)
		return 0;
	c = map_lookup_or_init(&counters, &dev, &zero);
	if (!c)
		return 0;
	if (c->last_sector) {
		if (c->last_sector == sector)
			__sync_fetch_and_add(&c->sequential, 1);
		else
			__sync_fetch_and_add(&c->random, 1);
		__sync_fetch_and_add(&c->bytes, (__u64)nr_sector * 512);
	}
	c->last_sector = sector + nr_sector;
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(complete__btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return complete(rq_dev(rq), BPF_CORE_READ(rq, __sector), nr_bytes >> 9);
}

/* Kernels without the block_rq_completion event class (5.10) describe
 * block_rq_complete with an event structure of its own (as biolatency). */
struct trace_event_raw_block_rq_complete___own {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

SEC("tracepoint/block/block_rq_complete")
int complete__tp(void *ctx)
{
	struct trace_event_raw_block_rq_completion *c = ctx;
	struct trace_event_raw_block_rq_complete___own *own = ctx;
	dev_t dev = 0;
	sector_t sector = 0;
	unsigned int nr = 0;

	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion)) {
		BPF_CORE_READ_INTO(&dev, c, dev);
		BPF_CORE_READ_INTO(&sector, c, sector);
		BPF_CORE_READ_INTO(&nr, c, nr_sector);
	} else {
		BPF_CORE_READ_INTO(&dev, own, dev);
		BPF_CORE_READ_INTO(&sector, own, sector);
		BPF_CORE_READ_INTO(&nr, own, nr_sector);
	}
	return complete(dev, sector, nr);
}
