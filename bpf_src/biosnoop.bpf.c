// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biosnoop: one record per completed block request (blkreq.bpf.h does the
 * tracking), with the sequential/random guess of -P. */
#include "corebpf.bpf.h"
#include "blkreq.bpf.h"
#include "biosnoop.h"

const volatile bool targ_pattern = false;

/* Where the previous request on each disk ended (-P). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} last_sector SEC(".maps");

EVENTS_RINGBUF(events, 1 << 22, struct bio_event);

static __always_inline void blk_done(const struct blk_done *d)
{
	struct bio_event *e;
	__u64 *last, end;
	__u32 dev = d->dev;
	__u8 pattern = PATTERN_UNKNOWN;

	if (targ_pattern) {
		last = bpf_map_lookup_elem(&last_sector, &dev);
		if (last)
			pattern = *last == d->sector ? PATTERN_SEQUENTIAL : PATTERN_RANDOM;
		end = d->sector + d->len / 512;
		bpf_map_update_elem(&last_sector, &dev, &end, BPF_ANY);
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->ts = d->ts;
	e->delta = d->delta;
	e->qdelta = d->qdelta;
	e->sector = d->sector;
	e->len = d->len;
	e->pid = d->pid;
	e->cgroup = d->cgroup;
	e->dev = d->dev;
	e->rwflag = d->rwflag;
	e->pattern = pattern;
	e->has_who = d->has_who;
	__builtin_memcpy(e->comm, d->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}
