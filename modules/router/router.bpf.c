// SPDX-License-Identifier: GPL-2.0
/*
 * router: an IPv4/IPv6 router as an iovisor IO module. The fast path forwards with longest
 * prefix match over connected and static routes, a neighbour table, TTL/hop-limit decrement
 * and an incremental IPv4 checksum update. Everything else goes to the controller through the
 * slow path: ARP, neighbour discovery, packets for the router itself, and the cases that need
 * an ICMP error (TTL exceeded, no route) or a neighbour resolution.
 */
#include "../../src/dataplane/bpf/iov.h"
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/in.h>
#include <stddef.h>

#ifndef ROUTER_VERSION
#define ROUTER_VERSION 1
#endif

const volatile __u32 router_version = ROUTER_VERSION;

/* Slow-path reasons (modules/router/index.ts mirrors them). */
#define RT_ARP 1
#define RT_LOCAL 2
#define RT_NO_ROUTE 3
#define RT_TTL 4
#define RT_NEIGH_MISS 5
#define RT_ND 6

struct rt_port {
	__u8 mac[6];
	__u8 enabled;
	__u8 pad;
};

struct rt_key4 {
	__u32 prefixlen;
	__be32 addr;
};

struct rt_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct rt_nh4 {
	__u32 port;
	__be32 via; /* 0: connected */
};

struct rt_nh6 {
	__u32 port;
	__u32 connected;
	__u8 via[16];
};

struct rt_mac {
	__u8 mac[6];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct rt_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __be32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_local4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct in6_addr);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_local6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct rt_key4);
	__type(value, struct rt_nh4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_routes4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct rt_key6);
	__type(value, struct rt_nh6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_routes6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __be32);
	__type(value, struct rt_mac);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_neigh4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct in6_addr);
	__type(value, struct rt_mac);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rt_neigh6 SEC(".maps");

static __always_inline int set_macs(struct __sk_buff *skb, __u8 *dst, __u32 out)
{
	struct rt_port *op = bpf_map_lookup_elem(&rt_ports, &out);
	if (!op || !op->enabled)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, dst, 6, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 6, op->mac, 6, 0) < 0)
		return -1;
	return 0;
}

static __always_inline int forward4(struct __sk_buff *skb, struct iphdr *ip)
{
	struct rt_key4 key = { .prefixlen = 32, .addr = ip->daddr };
	struct rt_nh4 *nh;
	struct rt_mac *m;
	__be32 via;
	__u32 out;

	if (bpf_map_lookup_elem(&rt_local4, &ip->daddr))
		return iov_packet_in(skb, RT_LOCAL, 0);
	if ((bpf_ntohl(ip->daddr) >> 28) == 0xe || ip->daddr == 0xffffffff)
		return iov_drop(skb);
	if (ip->ttl <= 1)
		return iov_packet_in(skb, RT_TTL, 0);
	nh = bpf_map_lookup_elem(&rt_routes4, &key);
	if (!nh)
		return iov_packet_in(skb, RT_NO_ROUTE, 0);
	out = nh->port;
	via = nh->via ? nh->via : ip->daddr;
	m = bpf_map_lookup_elem(&rt_neigh4, &via);
	if (!m)
		return iov_packet_in(skb, RT_NEIGH_MISS, out);

	/* TTL is the high byte of the 16-bit word it shares with the protocol. */
	__u16 old = bpf_htons((__u16)ip->ttl << 8 | ip->protocol);
	__u16 new = bpf_htons((__u16)(ip->ttl - 1) << 8 | ip->protocol);
	__u8 ttl = ip->ttl - 1;
	__u8 mac[6];
	__builtin_memcpy(mac, m->mac, 6);
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2) < 0)
		return iov_drop(skb);
	if (bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct iphdr, ttl), &ttl, 1, 0) < 0)
		return iov_drop(skb);
	if (set_macs(skb, mac, out) < 0)
		return iov_drop(skb);
	return iov_out(skb, out);
}

static __always_inline int forward6(struct __sk_buff *skb, struct ipv6hdr *ip6, void *data_end)
{
	struct rt_key6 key = { .prefixlen = 128 };
	struct in6_addr via;
	struct rt_nh6 *nh;
	struct rt_mac *m;
	__u32 out;

	if (ip6->nexthdr == IPPROTO_ICMPV6) {
		struct icmp6hdr *ic = (void *)(ip6 + 1);
		if ((void *)(ic + 1) > data_end)
			return iov_drop(skb);
		if (ic->icmp6_type >= 133 && ic->icmp6_type <= 137)
			return iov_packet_in(skb, RT_ND, 0);
	}
	if (ip6->daddr.in6_u.u6_addr8[0] == 0xff)
		return iov_drop(skb);
	if (bpf_map_lookup_elem(&rt_local6, &ip6->daddr))
		return iov_packet_in(skb, RT_LOCAL, 0);
	if (ip6->hop_limit <= 1)
		return iov_packet_in(skb, RT_TTL, 0);
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	nh = bpf_map_lookup_elem(&rt_routes6, &key);
	if (!nh)
		return iov_packet_in(skb, RT_NO_ROUTE, 0);
	out = nh->port;
	if (nh->connected)
		__builtin_memcpy(&via, &ip6->daddr, 16);
	else
		__builtin_memcpy(&via, nh->via, 16);
	m = bpf_map_lookup_elem(&rt_neigh6, &via);
	if (!m)
		return iov_packet_in(skb, RT_NEIGH_MISS, out);

	__u8 hl = ip6->hop_limit - 1;
	__u8 mac[6];
	__builtin_memcpy(mac, m->mac, 6);
	if (bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct ipv6hdr, hop_limit), &hl, 1, 0) < 0)
		return iov_drop(skb);
	if (set_macs(skb, mac, out) < 0)
		return iov_drop(skb);
	return iov_out(skb, out);
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

SEC("tc")
int router(struct __sk_buff *skb)
{
	iov_trace(skb, IOV_TR_IN, 0);
	__u32 in = iov_in_port(skb);
	struct rt_port *ip = bpf_map_lookup_elem(&rt_ports, &in);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if (!ip || !ip->enabled)
		return iov_drop(skb);
	if ((void *)(eth + 1) > data_end)
		return iov_drop(skb);
	if (!(eth->h_dest[0] & 1) && !mac_eq(eth->h_dest, ip->mac)) {
		iov_trace(skb, IOV_TR_FILTER, 0);
		return TC_ACT_SHOT; /* not addressed to this port */
	}
	if (skb->vlan_present)
		return iov_drop(skb);

	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return iov_packet_in(skb, RT_ARP, 0);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
			return iov_drop(skb);
		if (eth->h_dest[0] & 1)
			return iov_drop(skb);
		return forward4(skb, iph);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return iov_drop(skb);
		return forward6(skb, ip6, data_end);
	}
	return iov_drop(skb);
}

char LICENSE[] SEC("license") = "GPL";
