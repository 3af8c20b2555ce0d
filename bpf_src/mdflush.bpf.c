// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mdflush: flush requests to md (software RAID) devices.  Only a kernel
 * function carries this: md_flush_request(mddev, bio), by fentry or kprobe. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "mdflush.h"

EVENTS_RINGBUF(events, 1 << 18, struct md_event);

struct bio___old {                      /* before 5.12: the disk hung off the bio */
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

static __always_inline int flush(struct bio *bio)
{
	struct md_event *e = RINGBUF_RESERVE(events, sizeof(*e));
	struct gendisk *disk;

	if (!e)
		return 0;
	e->cgroup = event_cgroup_id();
	e->pid = current_tgid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_core_field_exists(bio->bi_bdev))
		disk = BPF_CORE_READ(bio, bi_bdev, bd_disk);
	else
		disk = BPF_CORE_READ((struct bio___old *)bio, bi_disk);
	bpf_probe_read_kernel_str(e->disk, sizeof(e->disk), BPF_CORE_READ(disk, disk_name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fentry/md_flush_request")
int BPF_PROG(flush__fentry, void *mddev, struct bio *bio)
{
	return flush(bio);
}

SEC("kprobe/md_flush_request")
int BPF_KPROBE(flush__kprobe, void *mddev, struct bio *bio)
{
	return flush(bio);
}
