// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcprtt: the smoothed RTT (srtt) of TCP sockets each time an established
 * socket receives a segment, as log2 histograms keyed by local or remote
 * IPv4 address (bcc's -b/-B) or by 0 (all addresses).  Probes: tcp:tcp_probe
 * (called at the top of tcp_rcv_established) as tp_btf (the socket) or the
 * classic tracepoint (its srtt field), else tcp_rcv_established itself
 * (fentry, kprobe). */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "net.bpf.h"
#include "tcprtt.h"

const volatile __u16 targ_lport = 0;            /* -p, 0 = any */
const volatile __u16 targ_rport = 0;            /* -P */
const volatile __u32 targ_laddr = 0;            /* -a, network order, 0 = any */
const volatile __u32 targ_raddr = 0;            /* -A */
const volatile __u16 targ_family = 0;           /* -4/-6 */
const volatile bool targ_ms = false;            /* -m */
const volatile __u8 targ_key = 0;               /* 1: -b (local), 2: -B (remote) */
const volatile bool targ_extension = false;     /* -e */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);                     /* IPv4 address or 0 */
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct rtt_sum);
} latency SEC(".maps");

static struct hist zero_hist;
static struct rtt_sum zero_sum;

/* saddr/daddr: the socket's IPv4 fields, as bcc reads them whatever the
 * family (an IPv6 socket holds 127.0.0.6, LOOPBACK4_IPV6, or the IPv4
 * address of a v4-mapped peer); ports in host order. */
static __always_inline int rtt(__u32 srtt, __u16 family, __u16 sport, __u16 dport,
			       __u32 saddr, __u32 daddr, const struct sock *sk)
{
	struct rtt_sum *sum;
	struct hist *h;
	__u64 key;

	if (targ_lport && sport != targ_lport)
		return 0;
	if (targ_rport && dport != targ_rport)
		return 0;
	if (targ_laddr && saddr != targ_laddr)
		return 0;
	if (targ_raddr && daddr != targ_raddr)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	if (targ_ms)
		srtt /= 1000;
	key = targ_key == 1 ? saddr : targ_key == 2 ? daddr : 0;
	if (targ_containers)    /* softirq: the socket's cgroup (0: no socket) */
		key = sk ? sk_cgroup_id(sk) : 0;
	h = map_lookup_or_init(&hists, &key, &zero_hist);
	if (h)
		HIST_INC(h, hist_slot(srtt));
	if (targ_extension) {
		sum = map_lookup_or_init(&latency, &key, &zero_sum);
		if (sum) {
			__sync_fetch_and_add(&sum->latency, srtt);
			__sync_fetch_and_add(&sum->count, 1);
		}
	}
	return 0;
}

static __always_inline int from_sk(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return rtt(BPF_CORE_READ(tp, srtt_us) >> 3, sk_family(sk), sk_sport(sk), sk_dport(sk),
		   BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr),
		   BPF_CORE_READ(sk, __sk_common.skc_daddr), sk);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(rcv__btf, struct sock *sk, struct sk_buff *skb)
{
	return from_sk(sk);
}

SEC("tracepoint/tcp/tcp_probe")
int rcv__tp(struct trace_event_raw_tcp_probe *ctx)
{
	const struct sock *sk = NULL;
	__u16 family = ctx->family;
	__u16 sport = ctx->sport, dport = ctx->dport;
	__u32 srtt = ctx->srtt, saddr = 0, daddr = 0;

	/* the IPv4 fields as bcc reads them, from the socket itself where the
	 * tracepoint has it (skaddr, 6.x); else the sockaddr_in's address */
	if (bpf_core_field_exists(ctx->skaddr)) {
		BPF_CORE_READ_INTO(&sk, ctx, skaddr);
		saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else if (family == AF_INET) {
		bpf_probe_read_kernel(&saddr, 4, ctx->saddr + 4);
		bpf_probe_read_kernel(&daddr, 4, ctx->daddr + 4);
	}
	return rtt(srtt, family, sport, dport, saddr, daddr, sk);
}

SEC("fentry/tcp_rcv_established")
int BPF_PROG(rcv__fentry, struct sock *sk, struct sk_buff *skb)
{
	return from_sk(sk);
}

SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(rcv__kprobe, struct sock *sk, struct sk_buff *skb)
{
	return from_sk(sk);
}
