// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpaccept: one record per accepted TCP connection, in the accepting task.
 * Tracepoint variant: accept()/accept4() return -> fd -> file -> socket ->
 * sock.  kprobe variant (bcc's): the sock inet_csk_accept() returns. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "net.bpf.h"
#include "containers.bpf.h"
#include "tcpaccept.h"

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
PORT_SET(ports);                         /* local ports */

EVENTS_RINGBUF(events, 1 << 18, struct accept_event);

static __always_inline int report(const struct sock *sk)
{
	__u32 pid = current_tgid();
	struct accept_event *e;
	__u16 family, lport;

	if (targ_tgid && targ_tgid != pid)
		return 0;
	if (!sk || sk_proto(sk) != PROTO_TCP)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	lport = sk_lport(sk);
	if (!PORT_OK(ports, lport))
		return 0;
	if (!container_ok())
		return 0;
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_cgroup_id();
	e->ts_us = bpf_ktime_get_ns() / 1000;
	e->pid = pid;
	e->family = family;
	e->lport = lport;
	e->rport = sk_dport(sk);
	sk_addrs(sk, family, e->laddr, e->raddr);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int accept_return(long ret)
{
	if (ret < 0)
		return 0;
	if (targ_tgid && targ_tgid != current_tgid())
		return 0;
	return report(fd_to_inet_sock(ret));
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return accept_return(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return accept_return(ctx->ret);
}

/* Variants btf and raw: accept(2) and accept4(2) through raw_syscalls'
 * sys_exit and their numbers (sc_action[nr] = 1, filled by
 * tools/tcpaccept.py). */
#include "sysnr.bpf.h"

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return accept_return(ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit__btf, struct pt_regs *regs, long ret) { return sc_exit(regs, ret); }

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit__raw, struct pt_regs *regs, long ret) { return sc_exit(regs, ret); }

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(accept__kprobe, struct sock *newsk)
{
	return report(newsk);
}
