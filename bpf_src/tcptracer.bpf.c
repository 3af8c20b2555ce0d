// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcptracer: TCP connections established (C, when an active open reaches
 * ESTABLISHED, with the task that called connect()), accepted (A, in the
 * accepting task) and closed (X, when the local side ends an established
 * connection: ESTABLISHED/CLOSE_WAIT -> FIN_WAIT1/LAST_ACK/CLOSE).
 *
 * Probes: sock:inet_sock_set_state (tp_btf -> classic) and the accept()/
 * accept4() syscall exits (fd -> socket).  bcc's kprobes (tcp_v4_connect,
 * tcp_set_state, tcp_close, inet_csk_accept) are not needed: every kernel
 * with BTF has these tracepoints. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "containers.bpf.h"
#include "tcptracer.h"

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9

const volatile __u32 targ_tgid = 0;             /* -p */
const volatile __u32 targ_netns = 0;            /* -N */
const volatile __u16 targ_family = 0;           /* -4/-6 */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);                     /* struct sock * */
	__type(value, struct tcpt_owner);
} connecting SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct tcpt_event);

static __always_inline bool sock_ok(const struct sock *sk, __u16 family)
{
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (targ_family && family != targ_family)
		return false;
	return !targ_netns || sk_netns(sk) == targ_netns;
}

static __always_inline bool task_ok(void)
{
	return (!targ_tgid || current_tgid() == targ_tgid) && container_ok();
}

/* owner: the connecting task (C), else the current one */
static __always_inline void emit(const struct sock *sk, __u16 family, __u8 type,
				 const struct tcpt_owner *owner)
{
	struct tcpt_event *e;

	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_sk_cgroup_id(sk);
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->ip = family == AF_INET ? 4 : 6;
	e->netns = sk_netns(sk);
	e->sport = sk_lport(sk);
	e->dport = sk_dport(sk);
	sk_addrs(sk, family, e->saddr, e->daddr);
	if (owner) {
		e->pid = owner->pid;
		__builtin_memcpy(e->comm, owner->comm, sizeof(e->comm));
	} else {
		e->pid = current_tgid();
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int changed(const struct sock *sk, int old, int new, __u16 family,
				   __u16 protocol)
{
	struct tcpt_owner *o, init = {};
	__u64 key = (__u64)sk;

	if (protocol != PROTO_TCP || !sock_ok(sk, family))
		return 0;
	if (new == TCP_SYN_SENT) {              /* in connect(), in the caller */
		if (!task_ok())
			return 0;
		init.pid = current_tgid();
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_map_update_elem(&connecting, &key, &init, BPF_ANY);
		return 0;
	}
	if (old == TCP_SYN_SENT) {
		o = bpf_map_lookup_elem(&connecting, &key);
		if (!o)
			return 0;
		if (new == TCP_ESTABLISHED)
			emit(sk, family, TCPT_CONNECT, o);
		bpf_map_delete_elem(&connecting, &key);
		return 0;
	}
	if ((old == TCP_ESTABLISHED || old == TCP_CLOSE_WAIT) &&
	    (new == TCP_FIN_WAIT1 || new == TCP_LAST_ACK || new == TCP_CLOSE) && task_ok())
		emit(sk, family, TCPT_CLOSE, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state__btf, const struct sock *sk, const int oldstate, const int newstate)
{
	return changed(sk, oldstate, newstate, sk_family(sk), sk_proto(sk));
}

SEC("tracepoint/sock/inet_sock_set_state")
int state__tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct sock *sk = ctx->skaddr;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	__u16 family = ctx->family, protocol = ctx->protocol;

	return changed(sk, oldstate, newstate, family, protocol);
}

static __always_inline int accepted(long ret)
{
	const struct sock *sk;
	__u16 family;

	if (ret < 0 || !task_ok())
		return 0;
	sk = fd_to_inet_sock(ret);
	if (!sk || sk_proto(sk) != PROTO_TCP)
		return 0;
	family = sk_family(sk);
	if (!sock_ok(sk, family) || !sk_lport(sk) || !sk_dport(sk))
		return 0;
	emit(sk, family, TCPT_ACCEPT, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}
