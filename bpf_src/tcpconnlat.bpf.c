// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpconnlat: active TCP open latency.  Tracepoint variants: the socket's
 * CLOSE -> SYN_SENT change (inside connect(): pid and comm are the caller's)
 * starts the clock, SYN_SENT -> ESTABLISHED (the SYN/ACK processed) stops it,
 * SYN_SENT -> anything else forgets it.  kprobe variant (bcc's):
 * tcp_v4_connect/tcp_v6_connect start it, tcp_rcv_state_process() on a
 * SYN_SENT socket stops it. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "tcpconnlat.h"

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
const volatile __u64 targ_min_us = 0;
const volatile bool targ_metrics = false;   /* the exporter's mode: histograms, no events */

struct start {
	__u64 ts;
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct start);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct connlat_event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);     /* address family */
	__type(value, struct lat_hist);
} hists SEC(".maps");

static struct lat_hist zero_hist;

static __always_inline int begin(__u64 skp, __u16 family)
{
	struct start s = {};

	s.pid = current_tgid();
	if (targ_tgid && targ_tgid != s.pid)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	s.ts = bpf_ktime_get_ns();
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	bpf_map_update_elem(&start, &skp, &s, BPF_ANY);
	return 0;
}

/* the handshake of sk completed: report if slow enough */
static __always_inline int finish(__u64 skp, __u16 family, __u16 lport, __u16 dport,
				  const __u8 *saddr, const __u8 *daddr)
{
	struct start *s = bpf_map_lookup_elem(&start, &skp);
	struct connlat_event *e;
	__u64 now, delta_us;

	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	delta_us = (now - s->ts) / 1000;
	if (targ_metrics) {
		__u32 key = family;
		struct lat_hist *h = map_lookup_or_init(&hists, &key, &zero_hist);

		if (h) {
			HIST_INC(h, hist_slot(delta_us));
			__sync_fetch_and_add(&h->sum_ns, now - s->ts);
		}
		goto out;
	}
	if (delta_us < targ_min_us)
		goto out;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto out;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_sk_cgroup_id((const struct sock *)skp);
	e->ts_us = now / 1000;
	e->delta_us = delta_us;
	e->pid = s->pid;
	e->family = family;
	e->lport = lport;
	e->dport = dport;
	__builtin_memcpy(e->saddr, saddr, 16);
	__builtin_memcpy(e->daddr, daddr, 16);
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &skp);
	return 0;
}

static __always_inline int on_state(struct state_args *a)
{
	__u64 skp = (__u64)a->sk;

	if (a->protocol != PROTO_TCP)
		return 0;
	if (a->oldstate == TCP_CLOSE && a->newstate == TCP_SYN_SENT)
		return begin(skp, a->family);
	if (a->oldstate != TCP_SYN_SENT)
		return 0;
	if (a->newstate == TCP_ESTABLISHED)
		return finish(skp, a->family, a->sport, a->dport, a->saddr, a->daddr);
	bpf_map_delete_elem(&start, &skp);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state__btf, const struct sock *sk, const int oldstate, const int newstate)
{
	struct state_args a = {};

	state_from_sk(&a, sk, oldstate, newstate);
	return on_state(&a);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state__tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct state_args a = {};

	state_from_tp(&a, ctx);
	return on_state(&a);
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(connect_v4__kprobe, struct sock *sk)
{
	return begin((__u64)sk, AF_INET);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(connect_v6__kprobe, struct sock *sk)
{
	return begin((__u64)sk, AF_INET6);
}

SEC("kprobe/tcp_rcv_state_process")
int BPF_KPROBE(rcv_state__kprobe, struct sock *sk)
{
	__u8 saddr[16] = {}, daddr[16] = {};
	__u16 family;

	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_SYN_SENT)
		return 0;
	family = sk_family(sk);
	sk_addrs(sk, family, saddr, daddr);
	return finish((__u64)sk, family, sk_lport(sk), sk_dport(sk), saddr, daddr);
}
