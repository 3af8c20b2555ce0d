// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpcong: time TCP flows spend in each congestion control state (open,
 * disorder, cwr, recovery, loss), from tcp:tcp_cong_state_set (5.19+):
 * each change ends the previous state's stretch.  Variants: tp_btf (the
 * socket) and the classic tracepoint (its fields). */
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

SEC("tp_btf/tcp_cong_state_set")
int BPF_PROG(cong__btf, struct sock *sk, __u8 ca_state)
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
