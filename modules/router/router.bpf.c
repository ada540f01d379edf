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

/* Rewrites the MACs for the next hop out of port `out` (direct writes: both builds). */
static __always_inline int set_macs(struct ethhdr *eth, __u8 *dst, __u32 out)
{
	struct rt_port *op = bpf_map_lookup_elem(&rt_ports, &out);
	if (!op || !op->enabled)
		return -1;
	__builtin_memcpy(eth->h_dest, dst, 6);
	__builtin_memcpy(eth->h_source, op->mac, 6);
	return 0;
}

/*
 * Incremental update of a 16-bit one's-complement checksum for one changed 16-bit word (RFC
 * 1624, HC' = ~(~HC + ~m + m')), by hand: XDP has no bpf_l3_csum_replace. Byte order does not
 * matter as long as all three are in the same one.
 */
static __always_inline void csum_replace2(__sum16 *sum, __u16 old, __u16 new)
{
	__u32 c = (__u16)~*sum + (__u16)~old + (__u32) new;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__sum16)~c;
}

static __always_inline int forward4(iov_ctx_t *ctx, struct ethhdr *eth, struct iphdr *ip)
{
	struct rt_key4 key = { .prefixlen = 32, .addr = ip->daddr };
	struct rt_nh4 *nh;
	struct rt_mac *m;
	__be32 via;
	__u32 out;

	if (bpf_map_lookup_elem(&rt_local4, &ip->daddr))
		return iov_packet_in(ctx, RT_LOCAL, 0);
	if ((bpf_ntohl(ip->daddr) >> 28) == 0xe || ip->daddr == 0xffffffff)
		return iov_drop(ctx);
	if (ip->ttl <= 1)
		return iov_packet_in(ctx, RT_TTL, 0);
	nh = bpf_map_lookup_elem(&rt_routes4, &key);
	if (!nh)
		return iov_packet_in(ctx, RT_NO_ROUTE, 0);
	out = nh->port;
	via = nh->via ? nh->via : ip->daddr;
	m = bpf_map_lookup_elem(&rt_neigh4, &via);
	if (!m)
		return iov_packet_in(ctx, RT_NEIGH_MISS, out);

	/* TTL is the high byte of the 16-bit word it shares with the protocol. */
	__u16 old = bpf_htons((__u16)ip->ttl << 8 | ip->protocol);
	__u16 new = bpf_htons((__u16)(ip->ttl - 1) << 8 | ip->protocol);
	__u8 mac[6];
	__builtin_memcpy(mac, m->mac, 6);
	if (set_macs(eth, mac, out) < 0)
		return iov_drop(ctx);
	ip->ttl--;
	csum_replace2(&ip->check, old, new);
	return iov_out(ctx, out);
}

static __always_inline int forward6(iov_ctx_t *ctx, struct ethhdr *eth, struct ipv6hdr *ip6,
				    void *data_end)
{
	struct rt_key6 key = { .prefixlen = 128 };
	struct in6_addr via;
	struct rt_nh6 *nh;
	struct rt_mac *m;
	__u32 out;

	if (ip6->nexthdr == IPPROTO_ICMPV6) {
		struct icmp6hdr *ic = (void *)(ip6 + 1);
		if ((void *)(ic + 1) > data_end)
			return iov_drop(ctx);
		if (ic->icmp6_type >= 133 && ic->icmp6_type <= 137)
			return iov_packet_in(ctx, RT_ND, 0);
	}
	if (ip6->daddr.in6_u.u6_addr8[0] == 0xff)
		return iov_drop(ctx);
	if (bpf_map_lookup_elem(&rt_local6, &ip6->daddr))
		return iov_packet_in(ctx, RT_LOCAL, 0);
	if (ip6->hop_limit <= 1)
		return iov_packet_in(ctx, RT_TTL, 0);
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	nh = bpf_map_lookup_elem(&rt_routes6, &key);
	if (!nh)
		return iov_packet_in(ctx, RT_NO_ROUTE, 0);
	out = nh->port;
	if (nh->connected)
		__builtin_memcpy(&via, &ip6->daddr, 16);
	else
		__builtin_memcpy(&via, nh->via, 16);
	m = bpf_map_lookup_elem(&rt_neigh6, &via);
	if (!m)
		return iov_packet_in(ctx, RT_NEIGH_MISS, out);

	__u8 mac[6];
	__builtin_memcpy(mac, m->mac, 6);
	if (set_macs(eth, mac, out) < 0)
		return iov_drop(ctx);
	ip6->hop_limit--;
	return iov_out(ctx, out);
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

SEC(IOV_SEC)
int router(iov_ctx_t *ctx)
{
	iov_trace(ctx, IOV_TR_IN, 0);
	__u32 in = iov_in_port(ctx);
	struct rt_port *ip = bpf_map_lookup_elem(&rt_ports, &in);
	void *data = iov_data(ctx);
	void *data_end = iov_data_end(ctx);
	struct ethhdr *eth = data;

	if (!ip || !ip->enabled)
		return iov_drop(ctx);
	if ((void *)(eth + 1) > data_end)
		return iov_drop(ctx);
	if (!(eth->h_dest[0] & 1) && !mac_eq(eth->h_dest, ip->mac)) {
		iov_trace(ctx, IOV_TR_FILTER, 0);
		return IOV_SHOT; /* not addressed to this port */
	}
	if (iov_vlan_present(ctx))
		return iov_drop(ctx);

	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return iov_packet_in(ctx, RT_ARP, 0);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
			return iov_drop(ctx);
		if (eth->h_dest[0] & 1)
			return iov_drop(ctx);
		return forward4(ctx, eth, iph);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return iov_drop(ctx);
		return forward6(ctx, eth, ip6, data_end);
	}
	return iov_drop(ctx);
}

char LICENSE[] SEC("license") = "GPL";
