// SPDX-License-Identifier: GPL-2.0
/*
 * monitor: a transparent IO module. Stacked on ports, it counts packets and bytes per port and
 * direction and per flow (addresses, L4 ports, protocol), then passes the packet on unchanged.
 * The controller reads the per-CPU counters live and ranks top talkers. Per packet: two inlined
 * array lookups (counter slot of the port, its per-CPU counters) and one flow-hash lookup with a
 * 16-byte key (IPv4) updated in place.
 */
#include "../../src/dataplane/bpf/iov.h"
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>

#ifndef MONITOR_VERSION
#define MONITOR_VERSION 1
#endif

const volatile __u32 monitor_version = MONITOR_VERSION;

/* Counter slots per monitor: an attachment gets one (slot * 2 + direction in mon_ports). */
#define MON_MAX_PORTS 64

struct mon_ctr {
	__u64 packets;
	__u64 bytes;
};

/* Flow keys kept small (the hash covers the whole key): IPv4 and IPv6 in separate maps. */
struct mon_flow4 {
	__be32 src;
	__be32 dst;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 dir;
	__u16 gid;
};

struct mon_flow6 {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 dir;
	__u16 gid;
};

/* gid -> counter slot + 1 (0: not watched), written by the controller when it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOV_MAX_GIDS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_slot SEC(".maps");

/* Per-port counters: arrays, so both lookups are inlined (no hashing on the hot path). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MON_MAX_PORTS * 2);
	__type(key, __u32);
	__type(value, struct mon_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct mon_flow4);
	__type(value, struct mon_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mon_flow6);
	__type(value, struct mon_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mon_flows6 SEC(".maps");

/* One lookup; on a hit the counters are updated in place through the returned pointer. */
static __always_inline void count_flow(void *map, void *key, __u32 len)
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

/* L4 ports of TCP/UDP (0 otherwise), host order. */
static __always_inline void l4_ports(void *l4, void *data_end, __u8 proto, __u16 *sport,
				     __u16 *dport)
{
	if ((proto == IPPROTO_UDP || proto == IPPROTO_TCP) && l4 + 4 <= data_end) {
		__u16 *p = l4;
		*sport = bpf_ntohs(p[0]);
		*dport = bpf_ntohs(p[1]);
	}
}

SEC(IOV_SEC)
int monitor(iov_ctx_t *ctx)
{
	iov_trace(ctx, IOV_TR_IN, 0);
	void *data = iov_data(ctx);
	void *data_end = iov_data_end(ctx);
	struct ethhdr *eth = data;
	__u32 gid = iov_gid(ctx);
	__u32 dir = iov_dir(ctx) & 1;
	__u32 len = iov_len(ctx);
	__u32 *slot = bpf_map_lookup_elem(&mon_slot, &gid);

	if (slot && *slot) {
		__u32 k = (*slot - 1) * 2 + dir;
		struct mon_ctr *c = bpf_map_lookup_elem(&mon_ports, &k);
		if (c) {
			c->packets++;
			c->bytes += len;
		}
	}
	if ((void *)(eth + 1) > data_end)
		return iov_continue(ctx);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return iov_continue(ctx);
		struct mon_flow4 fk = {
			.src = ip->saddr,
			.dst = ip->daddr,
			.proto = ip->protocol,
			.dir = dir,
			.gid = gid,
		};
		l4_ports((void *)ip + ip->ihl * 4, data_end, fk.proto, &fk.sport, &fk.dport);
		count_flow(&mon_flows4, &fk, len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return iov_continue(ctx);
		struct mon_flow6 fk = { .proto = ip6->nexthdr, .dir = dir, .gid = gid };
		__builtin_memcpy(fk.src, &ip6->saddr, 16);
		__builtin_memcpy(fk.dst, &ip6->daddr, 16);
		l4_ports(ip6 + 1, data_end, fk.proto, &fk.sport, &fk.dport);
		count_flow(&mon_flows6, &fk, len);
	}
	return iov_continue(ctx);
}

char LICENSE[] SEC("license") = "GPL";
