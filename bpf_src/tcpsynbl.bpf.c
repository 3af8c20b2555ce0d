// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpsynbl: the SYN backlog (accept queue length) of a listening TCP socket
 * each time the handshake of a new connection completes, as log2
 * histograms per backlog limit (listen()'s backlog, sk_max_ack_backlog).
 *
 * Probes: sock:inet_sock_set_state for the new child socket going from
 * LISTEN to SYN_RECV (inet_csk_clone_lock: the child is a copy of the
 * listener, made before it joins the accept queue, so it carries the
 * listener's sk_ack_backlog and sk_max_ack_backlog), as tp_btf or the
 * classic tracepoint; else bcc's probes, kprobes on tcp_v4_syn_recv_sock
 * and tcp_v6_syn_recv_sock (their first argument is the listener; Debian's
 * 6.1 refuses fentry there, ENOTSUPP).
 *
 * -4/-6 select the listener's family (the child's is a copy): an IPv4 peer
 * of a dual-stack IPv6 listener counts as IPv6 (bcc's -4 counts it; the
 * peer's address is not in the child yet when the tracepoint fires on 6.1). */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "tcpsynbl.h"

#define TCP_LISTEN 10
#define TCP_SYN_RECV 3
#define ETH_P_IP 0x0800

const volatile __u16 targ_family = 0;           /* -4/-6: of the connection */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);                     /* sk_max_ack_backlog */
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline int count(const struct sock *sk)
{
	__u32 max = BPF_CORE_READ(sk, sk_max_ack_backlog);
	struct hist *h;

	h = map_lookup_or_init(&hists, &max, &zero_hist);
	if (h)
		HIST_INC(h, hist_slot(BPF_CORE_READ(sk, sk_ack_backlog)));
	return 0;
}

static __always_inline bool wanted(__u16 family)
{
	return !targ_family || family == targ_family;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state__btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (oldstate != TCP_LISTEN || newstate != TCP_SYN_RECV || sk_proto(sk) != PROTO_TCP)
		return 0;
	if (!wanted(sk_family(sk)))
		return 0;
	return count(sk);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state__tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct sock *sk = ctx->skaddr;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	__u16 protocol = ctx->protocol, family = ctx->family;

	if (oldstate != TCP_LISTEN || newstate != TCP_SYN_RECV || protocol != PROTO_TCP)
		return 0;
	if (!wanted(family))
		return 0;
	return count(sk);
}

/* bcc's: the listener when the handshake completes (v6 hands IPv4 peers to
 * v4, with the same listener: counted there, once) */
static __always_inline int recv_sock(const struct sock *sk, const struct sk_buff *skb,
				     bool v6)
{
	if (v6 && BPF_CORE_READ(skb, protocol) == bpf_htons(ETH_P_IP))
		return 0;
	if (!wanted(sk_family(sk)))
		return 0;
	return count(sk);
}

SEC("kprobe/tcp_v4_syn_recv_sock")
int BPF_KPROBE(v4__kprobe, const struct sock *sk, struct sk_buff *skb)
{
	return recv_sock(sk, skb, false);
}

SEC("kprobe/tcp_v6_syn_recv_sock")
int BPF_KPROBE(v6__kprobe, const struct sock *sk, struct sk_buff *skb)
{
	return recv_sock(sk, skb, true);
}
