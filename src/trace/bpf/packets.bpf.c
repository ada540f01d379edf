// SPDX-License-Identifier: GPL-2.0
/*
 * packets: pwru-like packet following on the kernel's own skb tracepoints. Each hop of a
 * matching packet (device receive, stack receive, queue for transmit, driver transmit, drop
 * with reason, consume) becomes one record with the device, its namespace and the packet's
 * addresses. A packet that matched once is followed by its skb address, so hops where its
 * headers are no longer readable (a drop after delivery) are still reported. Every hook is
 * defined as tp_btf and as raw_tp; user space loads the first set the kernel accepts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "trace.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58

enum hook_id {
	HOOK_NETIF_RX = 1,
	HOOK_NETIF_RECEIVE_SKB = 2,
	HOOK_NET_DEV_QUEUE = 3,
	HOOK_NET_DEV_START_XMIT = 4,
	HOOK_KFREE_SKB = 5,
	HOOK_CONSUME_SKB = 6,
	HOOK_NET_DEV_XMIT = 7,
};

/* Filters (0 = any). Addresses are 16 bytes; IPv4 in the first 4 with family 4. */
const volatile __u8 filter_l4proto = 0;
const volatile __u8 filter_family = 0;
const volatile __u8 filter_host_set = 0;
const volatile __u8 filter_host[16] __attribute__((aligned(4))) = {};
const volatile __u8 filter_src_set = 0;
const volatile __u8 filter_src[16] __attribute__((aligned(4))) = {};
const volatile __u8 filter_dst_set = 0;
const volatile __u8 filter_dst[16] __attribute__((aligned(4))) = {};
const volatile __u16 filter_port = 0;
const volatile __u32 filter_netns = 0;
const volatile __u32 filter_ifindex = 0;

struct pkt_event {
	__u64 ts;
	__u64 skb;
	__u64 location;
	__u32 hook;
	__u32 ifindex;
	__u32 netns;
	__u32 len;
	__u32 reason;
	__u32 pid;
	__u32 cpu;
	__u32 mark;
	__u16 l3proto;
	__u8 l4proto;
	__u8 family;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 icmp_id;
	__u16 icmp_seq;
	__u16 pad;
	char dev[16];
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkt_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

static __always_inline int addr_eq(const __u8 *a, const volatile __u8 *b, int n)
{
	__u32 x[4], y[4];
	__builtin_memcpy(x, a, 16);
	y[0] = *(const volatile __u32 *)&b[0];
	y[1] = *(const volatile __u32 *)&b[4];
	y[2] = *(const volatile __u32 *)&b[8];
	y[3] = *(const volatile __u32 *)&b[12];
	if (x[0] != y[0])
		return 0;
	if (n == 4)
		return 1;
	return x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Parses the IP and transport headers into e; returns 0 when they are not IPv4/IPv6. */
static __always_inline int parse(struct sk_buff *skb, struct pkt_event *e)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	if (nh == (__u16)~0U || !head)
		return 0;
	e->l3proto = proto;
	__u8 l4;
	unsigned char *th;
	if (proto == ETH_P_IP) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		if (ip.version != 4)
			return 0;
		e->family = 4;
		__builtin_memcpy(e->saddr, &ip.saddr, 4);
		__builtin_memcpy(e->daddr, &ip.daddr, 4);
		l4 = ip.protocol;
		th = head + nh + ip.ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		e->family = 6;
		bpf_probe_read_kernel(e->saddr, 16, &ip6.saddr);
		bpf_probe_read_kernel(e->daddr, 16, &ip6.daddr);
		l4 = ip6.nexthdr;
		th = head + nh + sizeof(ip6);
	} else {
		return 0;
	}
	e->l4proto = l4;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP) {
		__u16 ports[2];
		if (!bpf_probe_read_kernel(ports, sizeof(ports), th)) {
			e->sport = bpf_ntohs(ports[0]);
			e->dport = bpf_ntohs(ports[1]);
		}
	} else if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6) {
		__u8 icmp[8];
		if (!bpf_probe_read_kernel(icmp, sizeof(icmp), th)) {
			e->icmp_type = icmp[0];
			e->icmp_code = icmp[1];
			e->icmp_id = (icmp[4] << 8) | icmp[5];
			e->icmp_seq = (icmp[6] << 8) | icmp[7];
		}
	}
	return 1;
}

static __always_inline int matches(struct pkt_event *e)
{
	if (filter_family && e->family != filter_family)
		return 0;
	if (filter_l4proto && e->l4proto != filter_l4proto)
		return 0;
	int n = e->family == 4 ? 4 : 16;
	if (filter_host_set && !addr_eq(e->saddr, filter_host, n) && !addr_eq(e->daddr, filter_host, n))
		return 0;
	if (filter_src_set && !addr_eq(e->saddr, filter_src, n))
		return 0;
	if (filter_dst_set && !addr_eq(e->daddr, filter_dst, n))
		return 0;
	if (filter_port && e->sport != filter_port && e->dport != filter_port)
		return 0;
	return 1;
}

static __always_inline int handle(struct sk_buff *skb, const struct net_device *dev, __u32 hook,
				  __u32 reason, __u64 location)
{
	if (!skb)
		return 0;
	__u32 zero = 0;
	struct pkt_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	__u64 key = (__u64)skb;
	int parsed = parse(skb, e);
	int ok = parsed && matches(e);
	__u64 *seen = bpf_map_lookup_elem(&tracked, &key);
	if (!ok && !seen)
		return 0;
	if (!dev)
		dev = BPF_CORE_READ(skb, dev);
	e->ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
	if (dev) {
		BPF_CORE_READ_STR_INTO(&e->dev, dev, name);
		e->netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	}
	if (filter_netns && e->netns && e->netns != filter_netns && !seen)
		return 0;
	if (filter_ifindex && e->ifindex != filter_ifindex && !seen)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->skb = key;
	e->hook = hook;
	e->reason = reason;
	e->location = location;
	e->len = BPF_CORE_READ(skb, len);
	e->mark = BPF_CORE_READ(skb, mark);
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (hook == HOOK_KFREE_SKB || hook == HOOK_CONSUME_SKB) {
		if (seen)
			bpf_map_delete_elem(&tracked, &key);
	} else if (!seen) {
		bpf_map_update_elem(&tracked, &key, &e->ts, BPF_ANY);
	}
	if (bpf_ringbuf_output(&events, e, sizeof(*e), rb_wake_flags(&events)))
		__sync_fetch_and_add(&dropped, 1);
	return 0;
}

SEC("tp_btf/netif_rx")
int BPF_PROG(btf_netif_rx, struct sk_buff *skb) { return handle(skb, 0, HOOK_NETIF_RX, 0, 0); }
SEC("raw_tp/netif_rx")
int BPF_PROG(raw_netif_rx, struct sk_buff *skb) { return handle(skb, 0, HOOK_NETIF_RX, 0, 0); }

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(btf_netif_receive_skb, struct sk_buff *skb) { return handle(skb, 0, HOOK_NETIF_RECEIVE_SKB, 0, 0); }
SEC("raw_tp/netif_receive_skb")
int BPF_PROG(raw_netif_receive_skb, struct sk_buff *skb) { return handle(skb, 0, HOOK_NETIF_RECEIVE_SKB, 0, 0); }

SEC("tp_btf/net_dev_queue")
int BPF_PROG(btf_net_dev_queue, struct sk_buff *skb) { return handle(skb, 0, HOOK_NET_DEV_QUEUE, 0, 0); }
SEC("raw_tp/net_dev_queue")
int BPF_PROG(raw_net_dev_queue, struct sk_buff *skb) { return handle(skb, 0, HOOK_NET_DEV_QUEUE, 0, 0); }

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(btf_net_dev_start_xmit, struct sk_buff *skb, struct net_device *dev) { return handle(skb, dev, HOOK_NET_DEV_START_XMIT, 0, 0); }
SEC("raw_tp/net_dev_start_xmit")
int BPF_PROG(raw_net_dev_start_xmit, struct sk_buff *skb, struct net_device *dev) { return handle(skb, dev, HOOK_NET_DEV_START_XMIT, 0, 0); }

SEC("tp_btf/kfree_skb")
int BPF_PROG(btf_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason) { return handle(skb, 0, HOOK_KFREE_SKB, reason, (__u64)location); }
SEC("raw_tp/kfree_skb")
int BPF_PROG(raw_kfree_skb, struct sk_buff *skb, void *location, long reason) { return handle(skb, 0, HOOK_KFREE_SKB, reason, (__u64)location); }

SEC("tp_btf/consume_skb")
int BPF_PROG(btf_consume_skb, struct sk_buff *skb, void *location) { return handle(skb, 0, HOOK_CONSUME_SKB, 0, (__u64)location); }
SEC("raw_tp/consume_skb")
int BPF_PROG(raw_consume_skb, struct sk_buff *skb, void *location) { return handle(skb, 0, HOOK_CONSUME_SKB, 0, (__u64)location); }

char LICENSE[] SEC("license") = "GPL";
