// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpsubnet: bytes sent on IPv4 TCP sockets, per destination subnet (the
 * first of the user's list that contains the peer's address).  Probes:
 * sock:sock_send_length (6.3+; what sendmsg() sent) as tp_btf or the
 * classic tracepoint, else bcc's tcp_sendmsg (the size asked) as fentry or
 * kprobe. */
#include "corebpf.bpf.h"
#include "net.bpf.h"

#define MAX_SUBNETS 64

const volatile __u32 targ_nsubnets = 0;
const volatile __u32 targ_net[MAX_SUBNETS] = {};        /* network order */
const volatile __u32 targ_mask[MAX_SUBNETS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SUBNETS);
	__type(key, __u32);                     /* index in the list */
	__type(value, __u64);                   /* bytes */
} send_bytes SEC(".maps");

static __always_inline int sent(const struct sock *sk, long bytes)
{
	__u32 dst;
	__u64 *v;

	if (bytes <= 0 || sk_family(sk) != AF_INET)
		return 0;
	dst = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	for (__u32 i = 0; i < MAX_SUBNETS; i++) {
		if (i >= targ_nsubnets)
			break;
		if ((dst & targ_mask[i]) != targ_net[i])
			continue;
		v = bpf_map_lookup_elem(&send_bytes, &i);
		if (v)
			__sync_fetch_and_add(v, bytes);
		break;
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(send__btf, struct sock *sk, int ret, int flags)
{
	if (sk_proto(sk) != PROTO_TCP)
		return 0;
	return sent(sk, ret);
}

SEC("tracepoint/sock/sock_send_length")
int send__tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol != PROTO_TCP)
		return 0;
	return sent(ctx->sk, ctx->ret);
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(send__fentry, struct sock *sk, struct msghdr *msg, size_t size)
{
	return sent(sk, size);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(send__kprobe, struct sock *sk, struct msghdr *msg, size_t size)
{
	return sent(sk, size);
}
