// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netqtop: packets and bytes per transmit and receive queue of one network
 * interface, by size.  net:net_dev_start_xmit (transmit; the skb's queue
 * mapping) and net:netif_receive_skb (receive; the recorded rx queue, else
 * 0).  The interface is matched by name, as bcc does.  Variants: tp_btf,
 * raw_tp and the classic tracepoints (through their skbaddr). */
#include "corebpf.bpf.h"
#include "netqtop.h"

#define IFNAMSIZ 16

const volatile char targ_ifname[IFNAMSIZ] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_QUEUE_NUM);
	__type(key, __u16);
	__type(value, struct queue_data);
} tx_q SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_QUEUE_NUM);
	__type(key, __u16);
	__type(value, struct queue_data);
} rx_q SEC(".maps");

static struct queue_data zero;

static __always_inline bool name_ok(struct sk_buff *skb)
{
	char name[IFNAMSIZ];
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	int i;

	if (!dev || bpf_probe_read_kernel(name, sizeof(name), &dev->name))
		return false;
	for (i = 0; i < IFNAMSIZ; i++) {
		if (name[i] != targ_ifname[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline void account(void *map, __u16 qid, __u64 len)
{
	struct queue_data *d = map_lookup_or_init(map, &qid, &zero);

	if (!d)
		return;
	__sync_fetch_and_add(&d->total_pkt_len, len);
	__sync_fetch_and_add(&d->num_pkt, 1);
	if (len < 64)
		__sync_fetch_and_add(&d->size_64B, 1);
	else if (len < 512)
		__sync_fetch_and_add(&d->size_512B, 1);
	else if (len < 2048)
		__sync_fetch_and_add(&d->size_2K, 1);
	else if (len < 16384)
		__sync_fetch_and_add(&d->size_16K, 1);
	else if (len < 65536)
		__sync_fetch_and_add(&d->size_64K, 1);
}

static __always_inline int xmit(struct sk_buff *skb)
{
	if (name_ok(skb))
		account(&tx_q, BPF_CORE_READ(skb, queue_mapping), BPF_CORE_READ(skb, len));
	return 0;
}

static __always_inline int receive(struct sk_buff *skb)
{
	__u16 q;

	if (!name_ok(skb))
		return 0;
	q = BPF_CORE_READ(skb, queue_mapping);          /* skb_get_rx_queue: recorded + 1 */
	account(&rx_q, q ? q - 1 : 0, BPF_CORE_READ(skb, len));
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(xmit__btf, struct sk_buff *skb) { return xmit(skb); }
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(receive__btf, struct sk_buff *skb) { return receive(skb); }

SEC("raw_tp/net_dev_start_xmit")
int BPF_PROG(xmit__raw, struct sk_buff *skb) { return xmit(skb); }
SEC("raw_tp/netif_receive_skb")
int BPF_PROG(receive__raw, struct sk_buff *skb) { return receive(skb); }

SEC("tracepoint/net/net_dev_start_xmit")
int xmit__tp(struct trace_event_raw_net_dev_start_xmit *ctx)
{
	return xmit((struct sk_buff *)ctx->skbaddr);
}

SEC("tracepoint/net/netif_receive_skb")
int receive__tp(struct trace_event_raw_net_dev_template *ctx)
{
	return receive((struct sk_buff *)ctx->skbaddr);
}
