/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Socket helpers shared by the network tools (tcpconnect, tcplife, ...).
 *
 * Addresses travel as 16-byte arrays (IPv4 in the first 4 bytes), ports in
 * host order.  Everything here reads kernel memory through CO-RE, so it
 * works from classic tracepoints, tp_btf and kprobes alike.
 */
#ifndef __COREBPF_NET_BPF_H
#define __COREBPF_NET_BPF_H

#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define PROTO_TCP 6
#define PROTO_UDP 17
#define SOCKTYPE_STREAM 1
#define MODE_S_IFMT 00170000
#define MODE_S_IFSOCK 0140000

/* A set of ports (host order) the user asked for.  `name_on` is set from
 * Python before load when the list is not empty; the map is filled after. */
#define PORT_SET(name)                                                         \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, 1024);                                     \
		__type(key, __u16);                                            \
		__type(value, __u8);                                           \
	} name SEC(".maps");                                                   \
	const volatile bool name##_on = false

#define PORT_OK(name, port)                                                    \
	({                                                                     \
		__u16 __p = (port);                                            \
		!name##_on || bpf_map_lookup_elem(&name, &__p) != NULL;        \
	})

/* The fields of sock:inet_sock_set_state, whichever way they were read. */
struct state_args {
	const struct sock *sk;
	int oldstate;
	int newstate;
	__u16 family;
	__u16 protocol;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline __u16 sk_family(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

/* sk_protocol was an 8-bit bitfield before 5.6 and a u16 since. */
static __always_inline __u16 sk_proto(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

static __always_inline __u16 sk_socktype(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
}

static __always_inline __u16 sk_lport(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

static __always_inline __u16 sk_dport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* The source port as inet_sock_set_state reports it (inet_sport). */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	return bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
}

/* Local and remote address of `sk` into 16-byte buffers. */
static __always_inline void sk_addrs(const struct sock *sk, __u16 family, __u8 *saddr,
				     __u8 *daddr)
{
	if (family == AF_INET) {
		bpf_core_read(saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* Network namespace inode number of `sk` (0 without CONFIG_NET_NS). */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline void state_from_sk(struct state_args *a, const struct sock *sk,
					  int oldstate, int newstate)
{
	a->sk = sk;
	a->oldstate = oldstate;
	a->newstate = newstate;
	a->family = sk_family(sk);
	a->protocol = sk_proto(sk);
	a->sport = sk_sport(sk);
	a->dport = sk_dport(sk);
	sk_addrs(sk, a->family, a->saddr, a->daddr);
}

static __always_inline void state_from_tp(struct state_args *a,
					  struct trace_event_raw_inet_sock_set_state *ctx)
{
	a->sk = ctx->skaddr;
	a->oldstate = ctx->oldstate;
	a->newstate = ctx->newstate;
	a->family = ctx->family;
	a->protocol = ctx->protocol;
	a->sport = ctx->sport;
	a->dport = ctx->dport;
	/* (copied with a helper: the verifier refuses loads through a ctx
	 * pointer clang has moved, which memcpy of the arrays produces) */
	if (a->family == AF_INET) {
		bpf_probe_read_kernel(a->saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(a->daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(a->saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(a->daddr, 16, ctx->daddr_v6);
	}
}

/* fd of the current task -> struct socket, or NULL when fd is not a socket.
 * (task->files->fdt->fd[fd]->private_data, checked by the inode's mode.) */
static __always_inline struct socket *fd_to_socket(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	__u16 mode;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & MODE_S_IFMT) != MODE_S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

/* The struct sock behind an IPv4/IPv6 socket fd, or NULL. */
static __always_inline struct sock *fd_to_inet_sock(long fd)
{
	struct socket *sock = fd_to_socket(fd);
	struct sock *sk;
	__u16 family;

	if (!sock)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

#endif /* __COREBPF_NET_BPF_H */
