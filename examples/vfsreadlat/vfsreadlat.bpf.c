// SPDX-License-Identifier: GPL-2.0
/* bcc's examples/tracing/vfsreadlat.c: vfs_read() latency, a log2 histogram
 * in microseconds.  Three variants of the entry/return pair: fentry/fexit
 * and kprobe/kretprobe on vfs_read (what bcc measures), and, for kernels
 * with neither, the read(2) syscall tracepoints (read(2) latency, which is
 * vfs_read's for most reads).  vfsreadlat.py asks for them in that order. */
#include "corebpf.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* bcc's BPF_HISTOGRAM(dist): counts keyed by log2 slot */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dist SEC(".maps");

static __always_inline int do_entry(void)
{
	__u32 pid = current_tid();
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int do_return(void)
{
	__u32 pid = current_tid(), slot;
	__u64 *tsp, *count;

	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	slot = hist_slot((bpf_ktime_get_ns() - *tsp) / 1000);
	count = bpf_map_lookup_elem(&dist, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

SEC("fentry/vfs_read")
int BPF_PROG(entry__fentry) { return do_entry(); }

SEC("fexit/vfs_read")
int BPF_PROG(return__fentry) { return do_return(); }

SEC("kprobe/vfs_read")
int BPF_KPROBE(entry__kprobe) { return do_entry(); }

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(return__kprobe) { return do_return(); }

SEC("tracepoint/syscalls/sys_enter_read")
int entry__tp(void *ctx) { return do_entry(); }

SEC("tracepoint/syscalls/sys_exit_read")
int return__tp(void *ctx) { return do_return(); }
