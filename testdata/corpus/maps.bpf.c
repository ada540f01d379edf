// SPDX-License-Identifier: GPL-2.0
/*
 * maps.bpf.c: BTF-defined maps of six types with struct keys and values.
 *
 * Program xdp_maps, SEC("xdp"), parses Ethernet + IPv4 (+ UDP/TCP ports when present) and,
 * with N = frame length (bpf_xdp_get_buff_len), per run:
 *   flows       HASH         key struct flow_key {saddr, daddr (u8[4], wire order), sport,
 *                            dport (host order), proto, pad[3]} -> struct flow_stats
 *                            {packets u64, bytes u64, tag char[8]}: inserted as
 *                            {1, N, "first"} when absent, else packets += 1, bytes += N,
 *                            tag = "again".
 *   slots       ARRAY (4)    u32 -> struct slot {hits u64, name char[16]}: slot (proto & 3)
 *                            gets hits += 1 and name = "xdp_maps"; other slots stay zero.
 *   proto_pcpu  PERCPU_HASH  u32 ip proto -> u64 packets (+1 on the running CPU).
 *   totals_pcpu PERCPU_ARRAY (1) u32 0 -> struct totals {packets u64, bytes u64}
 *                            (+1, +N on the running CPU).
 *   recent      LRU_HASH     u32 source address in host order -> u64 N (last frame length).
 *   routes      LPM_TRIE     struct ipv4_lpm_key {prefixlen u32, addr u8[4]} -> u64 hits;
 *                            key {24, daddr with the last byte zeroed}: inserted as 1 when
 *                            absent, else += 1.
 * Non-IPv4 frames only bump totals_pcpu and return XDP_PASS. Every frame returns XDP_PASS (2),
 * except that a frame too short for its headers returns XDP_DROP (1).
 *
 * One run with "udp4_dport7" (64 bytes, UDP 198.18.0.1:40000 -> 198.18.0.2:7) returns 2 and
 * leaves:
 *   flows       {saddr [198,18,0,1], daddr [198,18,0,2], sport 40000, dport 7, proto 17,
 *                pad [0,0,0]} -> {packets 1, bytes 64, tag "first"}
 *   slots       [1] -> {hits 1, name "xdp_maps"}; [0], [2], [3] -> {0, ""}
 *   proto_pcpu  17 -> 1 (summed over CPUs)
 *   totals_pcpu 0 -> {packets 1, bytes 64} (summed over CPUs)
 *   recent      0xc6120001 (3323068417) -> 64
 *   routes      {prefixlen 24, addr [198,18,0,0]} -> 1
 * Note: clang places the string literals "again" and "xdp_maps" in the section
 * .rodata.str1.1, which libbpf loads as one more internal (frozen array) map; a loader must
 * handle .rodata.* sections besides .rodata itself.
 * Kernel: needs 5.18+ for bpf_xdp_get_buff_len (older kernels reject the helper call).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct flow_key {
	__u8 saddr[4];
	__u8 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	char tag[8];
};

struct slot {
	__u64 hits;
	char name[16];
};

struct totals {
	__u64 packets;
	__u64 bytes;
};

struct ipv4_lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct totals);
} totals_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv4_lpm_key);
	__type(value, __u64);
} routes SEC(".maps");

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = bpf_xdp_get_buff_len(ctx);
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct flow_key fk;
	struct flow_stats *fs;
	struct totals *tot;
	struct slot *sl;
	__u32 zero = 0, idx, proto, src;
	__u64 one = 1, *cnt;
	struct ipv4_lpm_key lk;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;

	tot = bpf_map_lookup_elem(&totals_pcpu, &zero);
	if (tot) {
		tot->packets += 1;
		tot->bytes += len;
	}

	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;

	__builtin_memset(&fk, 0, sizeof(fk));
	__builtin_memcpy(fk.saddr, &ip->saddr, 4);
	__builtin_memcpy(fk.daddr, &ip->daddr, 4);
	fk.proto = ip->protocol;
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > data_end)
			return XDP_DROP;
		fk.sport = bpf_ntohs(udp->source);
		fk.dport = bpf_ntohs(udp->dest);
	} else if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > data_end)
			return XDP_DROP;
		fk.sport = bpf_ntohs(tcp->source);
		fk.dport = bpf_ntohs(tcp->dest);
	}

	fs = bpf_map_lookup_elem(&flows, &fk);
	if (fs) {
		__sync_fetch_and_add(&fs->packets, 1);
		__sync_fetch_and_add(&fs->bytes, len);
		__builtin_memcpy(fs->tag, "again", 6);
	} else {
		struct flow_stats init = { .packets = 1, .bytes = len, .tag = "first" };

		bpf_map_update_elem(&flows, &fk, &init, BPF_NOEXIST);
	}

	idx = ip->protocol & 3;
	sl = bpf_map_lookup_elem(&slots, &idx);
	if (sl) {
		__sync_fetch_and_add(&sl->hits, 1);
		__builtin_memcpy(sl->name, "xdp_maps", 9);
	}

	proto = ip->protocol;
	cnt = bpf_map_lookup_elem(&proto_pcpu, &proto);
	if (cnt)
		*cnt += 1;
	else
		bpf_map_update_elem(&proto_pcpu, &proto, &one, BPF_NOEXIST);

	src = bpf_ntohl(ip->saddr);
	bpf_map_update_elem(&recent, &src, &len, BPF_ANY);

	lk.prefixlen = 24;
	__builtin_memcpy(lk.addr, &ip->daddr, 4);
	lk.addr[3] = 0;
	cnt = bpf_map_lookup_elem(&routes, &lk);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	else
		bpf_map_update_elem(&routes, &lk, &one, BPF_NOEXIST);

	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
