// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcptop: TCP bytes sent and received per process and connection, summed in
 * the kernel.  Variants: tp_btf / classic sock:sock_send_length and
 * sock:sock_recv_length (6.3+; every sendmsg/recvmsg, so write()/read() on
 * sockets too), and kprobes tcp_sendmsg (size asked) + tcp_cleanup_rbuf
 * (bytes copied) as libbpf-tools does for older kernels. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "containers.bpf.h"
#include "tcptop.h"

#define MSG_PEEK 2

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct traffic_key);
	__type(value, struct traffic);
} traffic SEC(".maps");

static struct traffic zero;

static __always_inline int account(const struct sock *sk, long bytes, bool sent)
{
	struct traffic_key key = {};
	struct traffic *t;
	__u16 family;

	if (bytes <= 0 || !sk)
		return 0;
	key.pid = current_tgid();
	if (targ_tgid && targ_tgid != key.pid)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	if (!container_ok())
		return 0;
	key.family = family;
	/* inet_sport, not skc_num: a closed socket still being read has
	 * given its port back (skc_num 0) but keeps inet_sport */
	key.lport = sk_sport(sk);
	key.dport = sk_dport(sk);
	sk_addrs(sk, family, key.saddr, key.daddr);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	t = map_lookup_or_init(&traffic, &key, &zero);
	if (!t)
		return 0;
	if (sent)
		__sync_fetch_and_add(&t->sent, bytes);
	else
		__sync_fetch_and_add(&t->received, bytes);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(send__btf, struct sock *sk, int ret, int flags)
{
	if (sk_proto(sk) != PROTO_TCP)
		return 0;
	return account(sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(recv__btf, struct sock *sk, int ret, int flags)
{
	if ((flags & MSG_PEEK) || sk_proto(sk) != PROTO_TCP)
		return 0;
	return account(sk, ret, false);
}

SEC("tracepoint/sock/sock_send_length")
int send__tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol != PROTO_TCP)
		return 0;
	return account(ctx->sk, ctx->ret, true);
}

SEC("tracepoint/sock/sock_recv_length")
int recv__tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if ((ctx->flags & MSG_PEEK) || ctx->protocol != PROTO_TCP)
		return 0;
	return account(ctx->sk, ctx->ret, false);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(send__kprobe, struct sock *sk, struct msghdr *msg, size_t size)
{
	return account(sk, size, true);
}

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(recv__kprobe, struct sock *sk, int copied)
{
	return account(sk, copied, false);
}
