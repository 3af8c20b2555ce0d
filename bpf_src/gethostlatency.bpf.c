// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gethostlatency: uprobe + uretprobe on libc's getaddrinfo, gethostbyname and
 * gethostbyname2 (the same two programs serve all three).  Entry keeps the
 * start time, comm and host name per thread; return emits the latency. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "gethostlatency.h"

const volatile __u32 targ_tgid = 0;

struct start {
	__u64 ts;
	char comm[16];
	char host[HOST_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct host_event);

SEC("uprobe")
int BPF_KPROBE(lookup_entry, const char *host)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start s = {};

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	s.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(&s.comm, sizeof(s.comm));
	bpf_probe_read_user_str(&s.host, sizeof(s.host), host);
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lookup_return)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct host_event *e;
	struct start *s;

	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (e) {
		e->pid = id >> 32;
		e->cgroup = event_cgroup_id();
		e->tid = tid;
		e->delta_ns = bpf_ktime_get_ns() - s->ts;
		__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
		__builtin_memcpy(e->host, s->host, sizeof(e->host));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}
