// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpdrop: TCP packets the kernel dropped, with the socket state, TCP flags,
 * the drop reason and the kernel stack.  Variants: tp_btf / classic
 * skb:kfree_skb with a reason above NOT_SPECIFIED (5.17+; the socket is
 * skb->sk, or rx_sk on 6.12+ receive paths where skb->sk is not set) and
 * kprobe tcp_drop() (kernels up to 5.18, what bcc prefers). */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "tcpdrop.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define HDR_UNSET 0xffff

const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
const volatile __u32 targ_netns = 0;
const volatile bool targ_metrics = false;   /* the exporter's mode: counts, no events */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__uint(value_size, MAX_STACK * sizeof(__u64));
} stacks SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct drop_event);

/* targ_metrics: drops per reason (enum skb_drop_reason) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} reasons SEC(".maps");

static __always_inline int report(void *ctx, const struct sock *sk, const struct sk_buff *skb,
				  __u32 reason)
{
	unsigned char *head;
	__u16 family, nh, th;
	struct drop_event *e;
	struct tcphdr tcp = {};
	__u8 ver = 0;

	if (!sk || !skb)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (sk_proto(sk) != PROTO_TCP)
		return 0;
	if (targ_netns && sk_netns(sk) != targ_netns)
		return 0;
	head = BPF_CORE_READ(skb, head);
	nh = BPF_CORE_READ(skb, network_header);
	th = BPF_CORE_READ(skb, transport_header);
	if (th == HDR_UNSET || bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return 0;
	if (nh != HDR_UNSET)
		bpf_probe_read_kernel(&ver, 1, head + nh);
	ver >>= 4;
	/* the packet's IP version decides (a v4-mapped flow on an IPv6
	 * socket is shown as the IPv4 it is on the wire) */
	if (ver == 4)
		family = AF_INET;
	else if (ver == 6)
		family = AF_INET6;
	if (targ_family && family != targ_family)
		return 0;
	if (targ_metrics) {
		__u64 zero = 0, *n = map_lookup_or_init(&reasons, &reason, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}

	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_sk_cgroup_id(sk);
	e->pid = current_tgid();
	e->reason = reason;
	e->family = family;
	e->sport = bpf_ntohs(tcp.source);
	e->dport = bpf_ntohs(tcp.dest);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->tcpflags = ((__u8 *)&tcp)[13];
	if (ver == 4) {
		struct iphdr *ip = (struct iphdr *)(head + nh);

		bpf_probe_read_kernel(e->saddr, 4, &ip->saddr);
		bpf_probe_read_kernel(e->daddr, 4, &ip->daddr);
	} else if (ver == 6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(head + nh);

		bpf_probe_read_kernel(e->saddr, 16, &ip6->saddr);
		bpf_probe_read_kernel(e->daddr, 16, &ip6->daddr);
	} else {
		/* no network header: a received packet came from the peer */
		sk_addrs(sk, family, e->daddr, e->saddr);
	}
	e->stack_id = bpf_get_stackid(ctx, &stacks, 0);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline bool reason_reported(__u32 reason)
{
	return reason > bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
}

/* (skb, location) until 5.17, + reason, + rx_sk from 6.12 */
TP_NARGS_DECLARE(kfree_skb);

/* Both variants load on kernels whose kfree_skb has no reason (the tool
 * turns them off there: TCP drops never reach that tracepoint). */
SEC("tp_btf/kfree_skb")
int kfree_skb__btf(unsigned long long *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)TP_ARG(ctx, 0);
	struct sock *sk;
	__u32 reason;

	if (TP_NARGS(kfree_skb) < 3)
		return 0;
	reason = TP_ARG(ctx, 2);
	if (!reason_reported(reason))
		return 0;
	sk = BPF_CORE_READ(skb, sk);
	if (!sk && TP_NARGS(kfree_skb) > 3)
		sk = (struct sock *)TP_ARG(ctx, 3);
	return report(ctx, sk, skb, reason);
}

/* Before 6.12 the tracepoint has no rx_sk. */
SEC("tracepoint/skb/kfree_skb")
int kfree_skb__tp(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = ctx->skbaddr;
	struct sock *sk = NULL;
	__u32 reason;

	if (!bpf_core_field_exists(ctx->reason))
		return 0;
	reason = ctx->reason;
	if (!reason_reported(reason))
		return 0;
	sk = BPF_CORE_READ(skb, sk);
	if (!sk && bpf_core_field_exists(ctx->rx_sk))
		sk = ctx->rx_sk;
	return report(ctx, sk, skb, reason);
}

SEC("kprobe/tcp_drop")
int BPF_KPROBE(tcp_drop__kprobe, struct sock *sk, struct sk_buff *skb)
{
	/* tcp_drop() gives no reason (and kernels before 5.17 have no enum) */
	__u32 reason = 0;

	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED))
		reason = bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	return report(ctx, sk, skb, reason);
}
