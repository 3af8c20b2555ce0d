// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpstates: every TCP state change, with the time spent in the previous
 * state and the task that happened to be running.  Variants: tp_btf and
 * classic sock:inet_sock_set_state; kprobe tcp_set_state (pre-4.16). */
#include "corebpf.bpf.h"
#include "net.bpf.h"
#include "cgroupid.bpf.h"
#include "tcpstates.h"

const volatile __u16 targ_family = 0;    /* 0: IPv4 and IPv6 */
PORT_SET(lports);
PORT_SET(rports);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} last SEC(".maps");

EVENTS_RINGBUF(events, 1 << 20, struct state_event);

static __always_inline int on_state(struct state_args *a)
{
	__u64 skp = (__u64)a->sk, now = bpf_ktime_get_ns(), *tsp;
	struct state_event *e;

	if (a->protocol != PROTO_TCP)
		return 0;
	if (!PORT_OK(lports, a->sport) || !PORT_OK(rports, a->dport) ||
	    (targ_family && a->family != targ_family)) {
		bpf_map_delete_elem(&last, &skp);
		return 0;
	}
	e = RINGBUF_RESERVE(events, sizeof(*e));
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		tsp = bpf_map_lookup_elem(&last, &skp);
		e->cgroup = event_sk_cgroup_id(a->sk);
		e->skaddr = skp;
		e->ts_us = now / 1000;
		e->span_us = tsp ? (now - *tsp) / 1000 : 0;
		e->pid = current_tgid();
		e->oldstate = a->oldstate;
		e->newstate = a->newstate;
		e->family = a->family;
		e->lport = a->sport;
		e->rport = a->dport;
		__builtin_memcpy(e->laddr, a->saddr, 16);
		__builtin_memcpy(e->raddr, a->daddr, 16);
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	if (a->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&last, &skp);
	else
		bpf_map_update_elem(&last, &skp, &now, BPF_ANY);
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

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(set_state__kprobe, struct sock *sk, int state)
{
	struct state_args a = {};

	state_from_sk(&a, sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return on_state(&a);
}
