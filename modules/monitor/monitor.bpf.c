// SPDX-License-Identifier: GPL-2.0
/*
 * monitor: a transparent IO module. Stacked on ports, it counts packets and bytes per port and
 * direction and per flow (addresses, L4 ports, protocol), then passes the packet on unchanged.
 * The controller reads the per-CPU counters live and ranks top talkers.
 */
#include "../../src/dataplane/bpf/iov.h"
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>

#ifndef MONITOR_VERSION
#define MONITOR_VERSION 1
#endif

const volatile __u32 monitor_version = MONITOR_VERSION;

struct mon_key {
	__u32 gid;
	__u32 dir;
};

struct mon_ctr {
	__u64 packets;
	__u64 bytes;
};

struct mon_flow {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
	__u32 gid;
	__u32 dir;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct mon_key);
	__type(value, struct mon_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct mon_flow);
	__type(value, struct mon_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_flows SEC(".maps");

static __always_inline void count(void *map, void *key, __u32 len)
{
	struct mon_ctr *c = bpf_map_lookup_elem(map, key);
	if (c) {
		c->packets++;
		c->bytes += len;
		return;
	}
	struct mon_ctr init = { .packets = 1, .bytes = len };
	bpf_map_update_elem(map, key, &init, BPF_NOEXIST);
}

SEC("tc")
int monitor(struct __sk_buff *skb)
{
	iov_trace(skb, IOV_TR_IN, 0);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct mon_key pk = { .gid = iov_gid(skb), .dir = iov_dir(skb) };
	struct mon_flow fk = {};
	__u8 l4proto = 0;
	void *l4 = 0;

	count(&mon_ports, &pk, skb->len);
	if ((void *)(eth + 1) > data_end)
		return iov_continue(skb);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return iov_continue(skb);
		__builtin_memcpy(fk.src, &ip->saddr, 4);
		__builtin_memcpy(fk.dst, &ip->daddr, 4);
		fk.family = 4;
		l4proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return iov_continue(skb);
		__builtin_memcpy(fk.src, &ip6->saddr, 16);
		__builtin_memcpy(fk.dst, &ip6->daddr, 16);
		fk.family = 6;
		l4proto = ip6->nexthdr;
		l4 = ip6 + 1;
	} else {
		return iov_continue(skb);
	}
	fk.proto = l4proto;
	if ((l4proto == IPPROTO_UDP || l4proto == IPPROTO_TCP) && l4 + 4 <= data_end) {
		__u16 *ports = l4;
		fk.sport = bpf_ntohs(ports[0]);
		fk.dport = bpf_ntohs(ports[1]);
	}
	fk.gid = pk.gid;
	fk.dir = pk.dir;
	count(&mon_flows, &fk, skb->len);
	return iov_continue(skb);
}

char LICENSE[] SEC("license") = "GPL";
