// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Packet loss for the network tools' tests (no netem on this kernel): an XDP
 * program for one side of a test veth pair that drops the first
 * `targ_drops` TCP segments to or from `targ_port` that carry data, or with
 * `drop_acks`, that are pure ACKs.  SYN, FIN and RST always pass. */
#include "corebpf.bpf.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PROTO_TCP 6

const volatile __u16 targ_port = 0;
const volatile __u32 targ_drops = 2;
const volatile bool drop_acks = false;

__u32 dropped = 0;
__u32 seen = 0;

SEC("xdp")
int drop_some(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;
	__u32 payload, hdrs;
	__u8 flags;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != PROTO_TCP || ip->ihl < 5)
			return XDP_PASS;
		tcp = (void *)ip + ip->ihl * 4;
		hdrs = ip->ihl * 4;
		payload = bpf_ntohs(ip->tot_len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != PROTO_TCP)
			return XDP_PASS;
		tcp = (void *)(ip6 + 1);
		hdrs = 0;
		payload = bpf_ntohs(ip6->payload_len);
	} else {
		return XDP_PASS;
	}
	if ((void *)(tcp + 1) > end)
		return XDP_PASS;
	if (tcp->source != bpf_htons(targ_port) && tcp->dest != bpf_htons(targ_port))
		return XDP_PASS;
	hdrs += tcp->doff * 4;
	payload = payload > hdrs ? payload - hdrs : 0;
	flags = ((__u8 *)tcp)[13];
	__sync_fetch_and_add(&seen, 1);
	if (flags & 0x07)                       /* FIN, SYN, RST */
		return XDP_PASS;
	if (drop_acks ? payload != 0 || !(flags & 0x10) : payload == 0)
		return XDP_PASS;
	if (dropped >= targ_drops)
		return XDP_PASS;
	__sync_fetch_and_add(&dropped, 1);
	return XDP_DROP;
}
