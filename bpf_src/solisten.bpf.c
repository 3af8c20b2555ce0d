// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* solisten: listen() on IPv4/IPv6 stream sockets, successful or not.
 * Tracepoint variant: listen() entry keeps fd and backlog, its return reads
 * the socket (so an unbound socket shows the port listen() picked).  kprobe
 * variant (bcc's): inet_listen() entry. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "net.bpf.h"
#include "solisten.h"

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_netns = 0;

struct listen_args {
	__s64 fd;
	__s64 backlog;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct listen_args);
} start SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct listen_event);

static __always_inline int report(const struct socket *sock, int backlog, int ret)
{
	struct listen_event *e;
	struct sock *sk;
	__u16 family, type;
	__u32 netns;

	if (!sock)
		return 0;
	type = BPF_CORE_READ(sock, type);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || type != SOCKTYPE_STREAM)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	netns = sk_netns(sk);
	if (targ_netns && netns != targ_netns)
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_cgroup_id();
	e->ts_us = bpf_ktime_get_ns() / 1000;
	e->pid = current_tgid();
	e->backlog = backlog;
	e->ret = ret;
	e->netns = netns;
	e->family = family;
	e->type = type;
	e->port = sk_sport(sk);
	if (family == AF_INET)
		bpf_core_read(e->addr, 4, &sk->__sk_common.skc_rcv_saddr);
	else
		bpf_core_read(e->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int listen_enter(int fd, int backlog)
{
	struct listen_args a = { .fd = fd, .backlog = backlog };
	__u32 tid = current_tid();

	if (targ_tgid && targ_tgid != current_tgid())
		return 0;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int listen_exit(long ret)
{
	__u32 tid = current_tid();
	struct listen_args *a = bpf_map_lookup_elem(&start, &tid);

	if (!a)
		return 0;
	report(fd_to_socket(a->fd), a->backlog, ret);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int listen_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return listen_enter(ctx->args[0], ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int listen_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return listen_exit(ctx->ret);
}

/* Variants btf and raw: listen(2) through raw_syscalls' sys_enter/sys_exit
 * and its number (sc_action[nr] = 1, filled by tools/solisten.py): two
 * classic tracepoints took ~0.5 s to detach. */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	if (!sc_action_of(nr) || sc_compat())
		return 0;
	return listen_enter(sc_arg(regs, 0), sc_arg(regs, 1));
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return listen_exit(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)

SEC("kprobe/inet_listen")
int BPF_KPROBE(inet_listen__kprobe, struct socket *sock, int backlog)
{
	if (targ_tgid && targ_tgid != current_tgid())
		return 0;
	return report(sock, backlog, 0);
}
