// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpcong: time TCP flows spend in each congestion control state (open,
 * disorder, cwr, recovery, loss), from tcp:tcp_cong_state_set (5.19+):
 * each change ends the previous state's stretch.  Variants: tp_btf (the
 * socket) and the classic tracepoint (its fields); before 5.19, fentry or
 * kprobe (bcc's functions): the socket's state read on entry to and return
 * from the functions that change it. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "tcpcong.h"

#define CA_OPEN 0
#define CA_DISORDER 1
#define CA_CWR 2
#define CA_RECOVERY 3
#define CA_LOSS 4

const volatile bool targ_dist = false;          /* -d: histograms per state */
const volatile bool targ_us = false;            /* -u */
const volatile __u32 targ_lport_min = 0;        /* -L */
const volatile __u32 targ_lport_max = 65535;
const volatile __u32 targ_dport_min = 0;        /* -R */
const volatile __u32 targ_dport_max = 65535;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);             /* TCP_CA_* */
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline int changed(struct flow_key *key, __u8 state)
{
	struct flow_val *v, init = {};
	struct hist *h;
	__u32 last;
	__u64 now, us;

	if (key->lport < targ_lport_min || key->lport > targ_lport_max ||
	    key->dport < targ_dport_min || key->dport > targ_dport_max)
		return 0;
	now = bpf_ktime_get_ns();
	v = bpf_map_lookup_elem(&flows, key);
	if (!v) {
		init.last_ts = now;
		init.last_cong_stat = state + 1;
		bpf_map_update_elem(&flows, key, &init, BPF_NOEXIST);
		return 0;
	}
	last = v->last_cong_stat;
	if (state + 1 == last)
		return 0;
	us = (now - v->last_ts) / 1000;
	v->last_ts = now;
	v->last_cong_stat = state + 1;
	if (targ_dist) {
		last -= 1;
		h = map_lookup_or_init(&hists, &last, &zero_hist);
		if (h)
			HIST_INC(h, hist_slot(targ_us ? us : us / 1000));
		return 0;
	}
	v->total_changes++;
	switch (last - 1) {
	case CA_OPEN: v->open_dura += us; break;
	case CA_DISORDER: v->disorder_dura += us; break;
	case CA_CWR: v->cwr_dura += us; break;
	case CA_RECOVERY: v->recover_dura += us; break;
	case CA_LOSS: v->loss_dura += us; break;
	}
	return 0;
}

static __always_inline int sock_changed(struct sock *sk, __u8 ca_state)
{
	struct flow_key key = {};

	key.family = sk_family(sk);
	if (key.family != AF_INET && key.family != AF_INET6)
		return 0;
	sk_addrs(sk, key.family, key.saddr, key.daddr);
	key.lport = sk_lport(sk);
	key.dport = sk_dport(sk);
	return changed(&key, ca_state);
}

SEC("tp_btf/tcp_cong_state_set")
int BPF_PROG(cong__btf, struct sock *sk, __u8 ca_state)
{
	return sock_changed(sk, ca_state);
}

SEC("tracepoint/tcp/tcp_cong_state_set")
int cong__tp(struct trace_event_raw_tcp_cong_state_set *ctx)
{
	struct flow_key key = {};

	/* copied out: the verifier refuses reads through a moved ctx pointer */
	key.family = ctx->family;
	if (key.family == AF_INET) {
		bpf_probe_read_kernel(key.saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(key.daddr, 4, ctx->daddr);
	} else if (key.family == AF_INET6) {
		bpf_probe_read_kernel(key.saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(key.daddr, 16, ctx->daddr_v6);
	} else {
		return 0;
	}
	key.lport = ctx->sport;
	key.dport = ctx->dport;
	return changed(&key, ctx->cong_state);
}

/* -- function variants: kernels without tcp_cong_state_set ------------------------- */

/* The socket's state now (icsk_ca_state: a 6-bit field before 5.15, 5 bits since). */
static __always_inline int sock_seen(struct sock *sk)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)sk;

	if (!sk)
		return 0;
	return sock_changed(sk, BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state));
}

/* The functions that move a socket between the states (bcc's list); the tool
 * disables the programs of those this kernel does not have (inlined). */
#define CONG_FENTRY(tag, func)                                                 \
SEC("fentry/" #func)                                                           \
int BPF_PROG(tag##_in__fentry, struct sock *sk)                                \
{                                                                              \
	return sock_seen(sk);                                                  \
}                                                                              \
SEC("fexit/" #func)                                                            \
int BPF_PROG(tag##_out__fentry, struct sock *sk)                               \
{                                                                              \
	return sock_seen(sk);                                                  \
}
CONG_FENTRY(fra, tcp_fastretrans_alert)
CONG_FENTRY(cwr, tcp_enter_cwr)
CONG_FENTRY(loss, tcp_enter_loss)
CONG_FENTRY(recov, tcp_enter_recovery)
CONG_FENTRY(tlp, tcp_process_tlp_ack)

/* kprobes: the socket of the thread's call, for its return (these functions
 * nest, on one socket: the entry of the inner call leaves the same value) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct sock *);
} calls SEC(".maps");

static __always_inline int call_entered(struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&calls, &tid, &sk, BPF_ANY);
	return sock_seen(sk);
}

static __always_inline int call_returned(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock **skp = bpf_map_lookup_elem(&calls, &tid);

	return skp ? sock_seen(*skp) : 0;
}

#define CONG_KPROBE(tag, func)                                                 \
SEC("kprobe/" #func)                                                           \
int BPF_KPROBE(tag##_in__kprobe, struct sock *sk)                              \
{                                                                              \
	return call_entered(sk);                                               \
}                                                                              \
SEC("kretprobe/" #func)                                                        \
int BPF_KRETPROBE(tag##_out__kprobe)                                           \
{                                                                              \
	return call_returned();                                                \
}
CONG_KPROBE(fra, tcp_fastretrans_alert)
CONG_KPROBE(cwr, tcp_enter_cwr)
CONG_KPROBE(loss, tcp_enter_loss)
CONG_KPROBE(recov, tcp_enter_recovery)
CONG_KPROBE(tlp, tcp_process_tlp_ack)
