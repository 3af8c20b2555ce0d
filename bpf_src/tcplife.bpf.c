// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcplife: one record per TCP session at its close, with its duration and
 * the bytes it moved (tcp_sock.bytes_acked/bytes_received, read at close).
 * Same bookkeeping as bcc's: the session starts at the last change into a
 * state below FIN_WAIT1; the process is the one seen at -> SYN_SENT (client)
 * or -> LAST_ACK (closed by the peer), else the context of -> CLOSE.
 * Variants: tp_btf / classic inet_sock_set_state, kprobe tcp_set_state. */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "tcplife.h"

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
const volatile bool targ_metrics = false;   /* the exporter's mode: histograms, no events */
PORT_SET(lports);
PORT_SET(rports);

struct id {
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} birth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct id);
} whoami SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct life_event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);     /* address family */
	__type(value, struct life_hist);
} hists SEC(".maps");

static struct life_hist zero_hist;

static __always_inline int on_state(struct state_args *a)
{
	__u64 skp = (__u64)a->sk, now, *tsp, delta, span;
	const struct tcp_sock *tp = (const struct tcp_sock *)a->sk;
	struct life_event *e;
	struct id *me;
	__u32 pid;

	if (a->protocol != PROTO_TCP)
		return 0;
	if (!PORT_OK(lports, a->sport) || !PORT_OK(rports, a->dport)) {
		bpf_map_delete_elem(&birth, &skp);
		return 0;
	}
	if (a->newstate < TCP_FIN_WAIT1) {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&birth, &skp, &now, BPF_ANY);
	}
	if (a->newstate == TCP_SYN_SENT || a->newstate == TCP_LAST_ACK) {
		struct id id = {};

		id.pid = current_tgid();
		if (targ_tgid && targ_tgid != id.pid)
			return 0;
		bpf_get_current_comm(id.comm, sizeof(id.comm));
		bpf_map_update_elem(&whoami, &skp, &id, BPF_ANY);
	}
	if (a->newstate != TCP_CLOSE)
		return 0;

	tsp = bpf_map_lookup_elem(&birth, &skp);
	if (!tsp) {
		bpf_map_delete_elem(&whoami, &skp);
		return 0;
	}
	now = bpf_ktime_get_ns();
	span = now - *tsp;
	delta = span / 1000;
	bpf_map_delete_elem(&birth, &skp);

	me = bpf_map_lookup_elem(&whoami, &skp);
	pid = me ? me->pid : current_tgid();
	if (targ_tgid && targ_tgid != pid)
		goto out;
	if (targ_family && a->family != targ_family)
		goto out;
	if (targ_metrics) {
		__u32 key = a->family;
		struct life_hist *h = map_lookup_or_init(&hists, &key, &zero_hist);

		if (h) {
			HIST_INC(h, hist_slot(delta));
			__sync_fetch_and_add(&h->sum_ns, span);
			__sync_fetch_and_add(&h->tx_b, BPF_CORE_READ(tp, bytes_acked));
			__sync_fetch_and_add(&h->rx_b, BPF_CORE_READ(tp, bytes_received));
		}
		goto out;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (!e)
		goto out;
	__builtin_memset(e, 0, sizeof(*e));
	e->cgroup = event_sk_cgroup_id((const struct sock *)skp);
	e->ts_us = now / 1000;
	e->span_us = delta;
	e->rx_b = BPF_CORE_READ(tp, bytes_received);
	e->tx_b = BPF_CORE_READ(tp, bytes_acked);
	e->pid = pid;
	e->family = a->family;
	e->lport = a->sport;
	e->rport = a->dport;
	__builtin_memcpy(e->laddr, a->saddr, 16);
	__builtin_memcpy(e->raddr, a->daddr, 16);
	if (me)
		__builtin_memcpy(e->comm, me->comm, sizeof(e->comm));
	else
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&whoami, &skp);
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

/* kernels before 4.16 (bcc's fallback) */
SEC("kprobe/tcp_set_state")
int BPF_KPROBE(set_state__kprobe, struct sock *sk, int state)
{
	struct state_args a = {};

	state_from_sk(&a, sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return on_state(&a);
}
