// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biotop: block I/O per (process, direction, disk), summed in the kernel;
 * request tracking in blkreq.bpf.h.  I/O whose submitter was not seen is
 * summed under PID 0 (as bcc does). */
#include "corebpf.bpf.h"
#include "blkreq.bpf.h"
#include "biotop.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct info_key);
	__type(value, struct info_val);
} counts SEC(".maps");

static struct info_val zero_val;

static __always_inline void blk_done(const struct blk_done *d)
{
	struct info_key key = {};
	struct info_val *v;

	key.major = d->dev >> BLK_MINORBITS;
	key.minor = d->dev & ((1u << BLK_MINORBITS) - 1);
	key.rwflag = d->rwflag;
	if (d->has_who) {
		key.pid = d->pid;
		__builtin_memcpy(key.comm, d->comm, sizeof(key.comm));
	}
	v = map_lookup_or_init(&counts, &key, &zero_val);
	if (!v)
		return;
	__sync_fetch_and_add(&v->bytes, d->len);
	__sync_fetch_and_add(&v->us, d->delta / 1000);
	__sync_fetch_and_add(&v->io, 1);
}
