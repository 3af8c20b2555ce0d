// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpconnect: one record (or one count) per active TCP open.
 *
 * Tracepoint variants: sock:inet_sock_set_state CLOSE -> SYN_SENT runs inside
 * connect() (process context, source port not chosen yet) and remembers the
 * socket; the record is emitted at whichever comes first: the return of
 * connect(2) in the same thread (source port known by then), or the socket
 * leaving SYN_SENT (the tracepoint carries the port).  So a non-blocking
 * connect is reported at once, a blocking one when it completes or fails.
 * The kprobe variant is bcc's: tcp_v4_connect/tcp_v6_connect returning 0.
 * -d adds syscall tracepoints that copy UDP payloads received from port 53.
 */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "containers.bpf.h"
#include "cgroupid.bpf.h"
#include "tcpconnect.h"

#define EINPROGRESS 115

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
const volatile bool targ_count = false;
PORT_SET(ports);                         /* destination ports */

struct pending {
	__u64 ts;
	__u32 pid;
	__u32 uid;
	__u64 cgroup;   /* the connecting task's (--containers) */
	char comm[TASK_COMM_LEN];
};

/* sockets in SYN_SENT that passed the filters, not reported yet */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending);
} pending SEC(".maps");

/* thread -> the socket its connect() put in SYN_SENT */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} by_tid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct connect_key);
	__type(value, __u64);
} counts SEC(".maps");

/* kprobe variant: thread -> the sk tcp_v{4,6}_connect was called with */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} kp_sk SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct connect_event);

static __always_inline bool task_wanted(__u32 *pid, __u32 *uid)
{
	*pid = current_tgid();
	*uid = current_uid();
	if (targ_tgid && targ_tgid != *pid)
		return false;
	if (targ_uid != INVALID_UID && targ_uid != *uid)
		return false;
	return container_ok();
}

static __always_inline void report(const struct pending *p, __u16 family, __u16 lport,
				   __u16 dport, const __u8 *saddr, const __u8 *daddr)
{
	struct connect_event *e;

	if (targ_count) {
		struct connect_key key = { .family = family, .dport = dport };
		__u64 one = 1, *n;

		__builtin_memcpy(key.saddr, saddr, 16);
		__builtin_memcpy(key.daddr, daddr, 16);
		n = bpf_map_lookup_elem(&counts, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		return;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return;
	e->ts_us = p->ts / 1000;
	e->cgroup = p->cgroup;
	e->pid = p->pid;
	e->uid = p->uid;
	e->family = family;
	e->lport = lport;
	e->dport = dport;
	e->pad = 0;
	__builtin_memcpy(e->saddr, saddr, 16);
	__builtin_memcpy(e->daddr, daddr, 16);
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int on_state(struct state_args *a)
{
	__u64 skp = (__u64)a->sk;
	struct pending *p;

	if (a->protocol != PROTO_TCP)
		return 0;
	if (a->oldstate == TCP_CLOSE && a->newstate == TCP_SYN_SENT) {
		struct pending np = {};
		__u32 tid = current_tid();

		if (targ_family && a->family != targ_family)
			return 0;
		if (!PORT_OK(ports, a->dport))
			return 0;
		if (!task_wanted(&np.pid, &np.uid))
			return 0;
		np.ts = bpf_ktime_get_ns();
		np.cgroup = event_cgroup_id();
		bpf_get_current_comm(np.comm, sizeof(np.comm));
		bpf_map_update_elem(&pending, &skp, &np, BPF_ANY);
		bpf_map_update_elem(&by_tid, &tid, &skp, BPF_ANY);
		return 0;
	}
	if (a->oldstate != TCP_SYN_SENT)
		return 0;
	p = bpf_map_lookup_elem(&pending, &skp);
	if (!p)
		return 0;
	/* sport 0: connect() failed before a SYN went out (bcc does not
	 * report those either, its kretprobe sees an error) */
	if (a->sport)
		report(p, a->family, a->sport, a->dport, a->saddr, a->daddr);
	bpf_map_delete_elem(&pending, &skp);
	return 0;
}

static __always_inline int on_connect_exit(void)
{
	__u32 tid = current_tid();
	__u8 saddr[16] = {}, daddr[16] = {};
	struct pending *p;
	struct sock *sk;
	__u64 *skp, key;
	__u16 lport, family;

	skp = bpf_map_lookup_elem(&by_tid, &tid);
	if (!skp)
		return 0;
	key = *skp;
	bpf_map_delete_elem(&by_tid, &tid);
	p = bpf_map_lookup_elem(&pending, &key);
	if (!p)
		return 0;
	sk = (struct sock *)key;
	lport = sk_lport(sk);
	if (!lport)
		return 0;           /* left to the state change out of SYN_SENT */
	family = sk_family(sk);
	sk_addrs(sk, family, saddr, daddr);
	report(p, family, lport, sk_dport(sk), saddr, daddr);
	bpf_map_delete_elem(&pending, &key);
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

/* Shared by both tracepoint variants (syscalls have no tp_btf form); a
 * no-op with the kprobe variant, which never fills `pending`. */
SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_connect_exit();
}

/* bcc's probes, for kernels with kprobes but no inet_sock_set_state (< 4.16). */
static __always_inline int kp_enter(struct sock *sk)
{
	__u32 tid = current_tid(), pid, uid;
	__u64 skp = (__u64)sk;

	if (!task_wanted(&pid, &uid))
		return 0;
	bpf_map_update_elem(&kp_sk, &tid, &skp, BPF_ANY);
	return 0;
}

static __always_inline int kp_return(int ret, __u16 family)
{
	__u32 tid = current_tid();
	__u8 saddr[16] = {}, daddr[16] = {};
	struct pending p = {};
	struct sock *sk;
	__u64 *skp;
	__u16 dport;

	skp = bpf_map_lookup_elem(&kp_sk, &tid);
	if (!skp)
		return 0;
	sk = (struct sock *)*skp;
	bpf_map_delete_elem(&kp_sk, &tid);
	if (ret != 0)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	dport = sk_dport(sk);
	if (!PORT_OK(ports, dport))
		return 0;
	p.pid = current_tgid();         /* filtered at entry */
	p.uid = current_uid();
	p.ts = bpf_ktime_get_ns();
	p.cgroup = event_cgroup_id();
	bpf_get_current_comm(p.comm, sizeof(p.comm));
	sk_addrs(sk, family, saddr, daddr);
	report(&p, family, sk_lport(sk), dport, saddr, daddr);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(connect_v4__kprobe, struct sock *sk)
{
	return kp_enter(sk);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(connect_v4_ret__kprobe, int ret)
{
	return kp_return(ret, AF_INET);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(connect_v6__kprobe, struct sock *sk)
{
	return kp_enter(sk);
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(connect_v6_ret__kprobe, int ret)
{
	return kp_return(ret, AF_INET6);
}

/* -d: UDP payloads from port 53, copied at recvfrom()/recvmsg() return. */
struct dns_args {
	const void *buf;
	const void *addr;       /* user sockaddr the kernel fills, or NULL */
	__u64 sk;
	__u64 buf_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct dns_args);
} dns_start SEC(".maps");

EVENTS_RINGBUF(dns_events, 1 << 18, struct dns_event);

static __always_inline int dns_enter(long fd, const void *buf, __u64 buf_len,
				     const void *addr)
{
	struct dns_args a = { .buf = buf, .addr = addr, .buf_len = buf_len };
	__u32 tid = current_tid();
	struct sock *sk = fd_to_inet_sock(fd);

	if (!sk || sk_proto(sk) != PROTO_UDP || !buf)
		return 0;
	a.sk = (__u64)sk;
	bpf_map_update_elem(&dns_start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int dns_exit(long ret)
{
	__u32 tid = current_tid();
	struct dns_args *a = bpf_map_lookup_elem(&dns_start, &tid);
	struct dns_event *e;
	__u16 port = 0;
	__u64 len;      /* 64-bit: clang 14 keeps a 32-bit len in a register whose
			 * upper half the verifier cannot bound */

	if (!a)
		return 0;
	if (ret <= 0)
		goto out;
	/* a connected socket (the resolver's) has its peer in the sock;
	 * otherwise look at the source address recvfrom() reported */
	port = sk_dport((struct sock *)a->sk);
	if (port != 53 && a->addr) {
		__be16 p = 0;

		bpf_probe_read_user(&p, sizeof(p), a->addr + 2);
		port = bpf_ntohs(p);
	}
	if (port != 53)
		goto out;
	e = RINGBUF_RESERVE(dns_events, sizeof(*e));
	if (!e)
		goto out;
	len = ret;
	if (len > a->buf_len)
		len = a->buf_len;
	if (len > DNS_MAX)
		len = DNS_MAX;
	e->len = len;
	/* bound the very register the helper gets (clang 14 otherwise checks a
	 * copy the verifier cannot relate to it) */
	barrier_var(len);
	if (len > DNS_MAX)
		len = DNS_MAX;
	if (!len || bpf_probe_read_user(e->pkt, len, a->buf))
		e->len = 0;
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&dns_start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int dns_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	return dns_enter(ctx->args[0], (const void *)ctx->args[1], ctx->args[2],
			 (const void *)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int dns_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	return dns_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int dns_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct user_msghdr msg = {};
	struct iovec iov = {};

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ctx->args[1]))
		return 0;
	if (!msg.msg_iov || bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov))
		return 0;
	return dns_enter(ctx->args[0], iov.iov_base, iov.iov_len, msg.msg_name);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int dns_recvmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	return dns_exit(ctx->ret);
}
