// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpretrans: TCP retransmissions, one record each or a count per flow.
 * Variants: tp_btf and classic tcp:tcp_retransmit_skb, kprobe
 * tcp_retransmit_skb (kernels without the tracepoint).  -l adds bcc's
 * kprobe on tcp_send_loss_probe (no tracepoint exists for tail loss probes),
 * so it needs a kernel with kprobes. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "tcpretrans.h"

const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
const volatile bool targ_count = false;
const volatile bool targ_metrics = false;   /* the exporter's mode: counts, no events */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, __u64);
} counts SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct retrans_event);

/* targ_metrics: [type - 1][ipv6] counts (type: RETRANSMIT, TLP) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

CGROUP_COUNTS(cgroup_totals);   /* targ_metrics + targ_containers: totals per socket cgroup */

static __always_inline int report(const struct sock *sk, const struct sk_buff *skb, __u8 type)
{
	struct retrans_event *e;
	__u16 family;

	if (!sk)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	if (targ_metrics) {
		__u32 idx = (type - 1) * 2 + (family == AF_INET6);
		__u64 *n;

		if (targ_containers) {
			cgroup_count(&cgroup_totals, sk_cgroup_id(sk), idx);
			return 0;
		}
		n = bpf_map_lookup_elem(&totals, &idx);
		if (n)
			*n += 1;
		return 0;
	}
	if (targ_count) {
		struct flow_key key = {};
		__u64 one = 1, *n;

		key.family = family;
		key.lport = sk_lport(sk);
		key.rport = sk_dport(sk);
		sk_addrs(sk, family, key.laddr, key.raddr);
		n = bpf_map_lookup_elem(&counts, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		return 0;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_sk_cgroup_id(sk);
	e->pid = current_tgid();
	e->family = family;
	e->lport = sk_lport(sk);
	e->rport = sk_dport(sk);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->type = type;
	/* TCP_SKB_CB(skb)->seq: the first word of skb->cb */
	if (skb)
		bpf_core_read(&e->seq, sizeof(e->seq), &skb->cb[0]);
	sk_addrs(sk, family, e->laddr, e->raddr);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit__btf, const struct sock *sk, const struct sk_buff *skb)
{
	return report(sk, skb, RETRANSMIT);
}

/* The leading fields of tcp:tcp_retransmit_skb, laid out the same since
 * 4.15 (the BTF struct was renamed from the tcp_event_sk_skb template in 6.x,
 * so it is not relocated by name). */
struct retransmit_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit__tp(struct retransmit_ctx *ctx)
{
	return report(ctx->skaddr, ctx->skbaddr, RETRANSMIT);
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(retransmit__kprobe, struct sock *sk, struct sk_buff *skb)
{
	return report(sk, skb, RETRANSMIT);
}

/* -l only (needs kprobes whatever the variant) */
SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(tlp, struct sock *sk)
{
	return report(sk, NULL, TLP);
}
