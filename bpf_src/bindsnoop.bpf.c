// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bindsnoop: bind() on IPv4/IPv6 sockets with the socket options that shape
 * it.  Tracepoint variant: bind() entry keeps the fd and the sockaddr the
 * caller passed; its return reads the socket behind the fd.  kprobe variant
 * (bcc's): inet_bind/inet6_bind and their returns. */
#include "corebpf.bpf.h"
#include "cgroupid.bpf.h"
#include "net.bpf.h"
#include "containers.bpf.h"
#include "bindsnoop.h"

/* inet_flags bits (6.6+: freebind & co. moved out of bitfields) */
#define INET_FLAGS_FREEBIND_BIT 11
#define INET_FLAGS_TRANSPARENT_BIT 15
#define INET_FLAGS_BIND_ADDRESS_NO_PORT_BIT 18

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile bool targ_errors = false;
const volatile bool targ_count = false;
PORT_SET(ports);

struct bind_args {
	__u64 sock;             /* struct socket * (kprobe) or 0 (tracepoint) */
	__s64 fd;
	__u8 sa[28];            /* the sockaddr passed (tracepoint variant) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct bind_args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct bind_key);
	__type(value, __u64);
} counts SEC(".maps");

EVENTS_RINGBUF(events, 1 << 18, struct bind_event);

/* the bitfields these replaced, for kernels before 6.6 */
struct inet_sock___old {
	__u8 freebind: 1;
	__u8 transparent: 1;
	__u8 bind_address_no_port: 1;
} __attribute__((preserve_access_index));

static __always_inline __u8 bind_opts(const struct sock *sk)
{
	const struct inet_sock___old *old = (const void *)sk;
	const struct inet_sock *inet = (const void *)sk;
	unsigned long flags = 0;
	__u8 opts = 0;

	if (bpf_core_field_exists(inet->inet_flags))
		flags = BPF_CORE_READ(inet, inet_flags);
	if (bpf_core_field_exists(old->freebind) ? BPF_CORE_READ_BITFIELD_PROBED(old, freebind) :
	    (flags >> INET_FLAGS_FREEBIND_BIT) & 1)
		opts |= OPT_FREEBIND;
	if (bpf_core_field_exists(old->transparent) ?
	    BPF_CORE_READ_BITFIELD_PROBED(old, transparent) :
	    (flags >> INET_FLAGS_TRANSPARENT_BIT) & 1)
		opts |= OPT_TRANSPARENT;
	if (bpf_core_field_exists(old->bind_address_no_port) ?
	    BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port) :
	    (flags >> INET_FLAGS_BIND_ADDRESS_NO_PORT_BIT) & 1)
		opts |= OPT_BIND_ADDRESS_NO_PORT;
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuse))
		opts |= OPT_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuseport))
		opts |= OPT_REUSEPORT;
	return opts;
}

static __always_inline bool task_wanted(void)
{
	if (targ_tgid && targ_tgid != current_tgid())
		return false;
	if (targ_uid != INVALID_UID && targ_uid != current_uid())
		return false;
	return container_ok();
}

/* `sa`: the sockaddr the caller passed, used when the bind failed (the
 * socket then holds no address); NULL in the kprobe variant (bcc's view). */
static __always_inline int report(const struct socket *sock, long ret, const __u8 *sa)
{
	const struct inet_sock *inet;
	struct bind_event *e;
	struct sock *sk;
	__u16 family, port;
	__u8 addr[16] = {};

	if (!sock)
		return 0;
	if (ret != 0 && !targ_errors)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = sk_family(sk);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	inet = (const void *)sk;
	if (ret != 0 && sa) {
		__u16 sa_family = *(__u16 *)sa;

		port = bpf_ntohs(*(__u16 *)(sa + 2));
		if (sa_family == AF_INET)
			__builtin_memcpy(addr, sa + 4, 4);
		else if (sa_family == AF_INET6)
			__builtin_memcpy(addr, sa + 8, 16);
	} else {
		port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
		if (family == AF_INET)
			bpf_core_read(addr, 4, &inet->inet_saddr);
		else
			bpf_core_read(addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	}
	if (!PORT_OK(ports, port))
		return 0;
	if (targ_count) {
		struct bind_key key = { .family = family, .port = port };
		__u64 one = 1, *n;

		__builtin_memcpy(key.addr, addr, 16);
		n = bpf_map_lookup_elem(&counts, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		return 0;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_cgroup_id();
	e->ts_us = bpf_ktime_get_ns() / 1000;
	e->pid = current_tgid();
	e->uid = current_uid();
	e->ret = ret;
	e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	e->family = family;
	e->port = port;
	e->protocol = sk_proto(sk);
	e->opts = bind_opts(sk);
	__builtin_memcpy(e->addr, addr, 16);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int bind_enter(int fd, const void *uaddr, long len)
{
	struct bind_args a = {};
	__u32 tid = current_tid();

	if (!task_wanted())
		return 0;
	a.fd = fd;
	if (len > (long)sizeof(a.sa))
		len = sizeof(a.sa);
	if (len > 0)
		bpf_probe_read_user(a.sa, len & 31, uaddr);
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int bind_exit(long ret)
{
	__u32 tid = current_tid();
	struct bind_args *a = bpf_map_lookup_elem(&start, &tid);

	if (!a)
		return 0;
	report(fd_to_socket(a->fd), ret, a->sa);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int bind_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return bind_enter(ctx->args[0], (const void *)ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int bind_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return bind_exit(ctx->ret);
}

/* Variants btf and raw: bind(2) through raw_syscalls' sys_enter/sys_exit
 * and its number (sc_action[nr] = 1, filled by tools/bindsnoop.py). */
#include "sysnr.bpf.h"

static __always_inline int sc_enter(struct pt_regs *regs, long nr)
{
	if (!sc_action_of(nr) || sc_compat())
		return 0;
	return bind_enter(sc_arg(regs, 0), (const void *)sc_arg(regs, 1), sc_arg(regs, 2));
}

static __always_inline int sc_exit(struct pt_regs *regs, long ret)
{
	if (!sc_action_of(sc_regs_nr(regs)) || sc_compat())
		return 0;
	return bind_exit(ret);
}

SYSNR_PROGRAMS(sc_enter, sc_exit)

static __always_inline int kp_enter(struct socket *sock)
{
	struct bind_args a = { .sock = (__u64)sock };
	__u32 tid = current_tid();

	if (!task_wanted())
		return 0;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int kp_return(long ret)
{
	__u32 tid = current_tid();
	struct bind_args *a = bpf_map_lookup_elem(&start, &tid);

	if (!a)
		return 0;
	report((const struct socket *)a->sock, ret, NULL);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("kprobe/inet_bind")
int BPF_KPROBE(inet_bind__kprobe, struct socket *sock)
{
	return kp_enter(sock);
}

SEC("kretprobe/inet_bind")
int BPF_KRETPROBE(inet_bind_ret__kprobe, int ret)
{
	return kp_return(ret);
}

SEC("kprobe/inet6_bind")
int BPF_KPROBE(inet6_bind__kprobe, struct socket *sock)
{
	return kp_enter(sock);
}

SEC("kretprobe/inet6_bind")
int BPF_KRETPROBE(inet6_bind_ret__kprobe, int ret)
{
	return kp_return(ret);
}
