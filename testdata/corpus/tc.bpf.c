// SPDX-License-Identifier: GPL-2.0
/*
 * tc.bpf.c: traffic-control classifiers for legacy cls_bpf ("tc") and tcx hooks.
 *
 * All programs are BPF_PROG_TYPE_SCHED_CLS and count packets in the hash `proto_counts`,
 * key struct proto_key {h_proto (ethertype, host order) u16, ip_proto u8, hook u8} -> u64
 * packets; ip_proto is the IPv4 protocol, or 0 for other ethertypes. hook says which program
 * counted: 0 tc_count, 1 tcx_ingress_count, 2 tcx_egress_count, 3 tc_drop_udp.
 *   tc_count          SEC("tc")          counts with hook 0, returns TC_ACT_OK (0).
 *   tcx_ingress_count SEC("tcx/ingress") counts with hook 1, returns TC_ACT_OK (0).
 *   tcx_egress_count  SEC("tcx/egress")  counts with hook 2, returns TC_ACT_OK (0).
 *   tc_drop_udp       SEC("tc")          counts with hook 3; an IPv4 UDP packet to port
 *                     drop_udp_port (.rodata const volatile, default 9 = discard) also bumps
 *                     .bss dropped and returns TC_ACT_SHOT (2); anything else TC_ACT_OK (0).
 *
 * One run (BPF_PROG_TEST_RUN) of each program with "udp4_dport7" returns 0 and leaves
 * proto_counts {h_proto 2048, ip_proto 17, hook H} -> 1 for its own hook H; .bss dropped = 0.
 * One run of tc_drop_udp with "udp4_dport9" returns 2 and leaves
 * {h_proto 2048, ip_proto 17, hook 3} -> 1 and .bss dropped = 1.
 *
 * tcx sections need libbpf 1.3+ to be recognised and kernel 6.6+ to attach; bpftool 7.1
 * (libbpf 1.1) rejects this object ("failed to guess program type from ELF section
 * 'tcx/ingress'") unless the program type is forced ("bpftool prog loadall ... type tc").
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define HOOK_TC 0
#define HOOK_TCX_INGRESS 1
#define HOOK_TCX_EGRESS 2
#define HOOK_DROP 3

struct proto_key {
	__u16 h_proto;
	__u8 ip_proto;
	__u8 hook;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct proto_key);
	__type(value, __u64);
} proto_counts SEC(".maps");

const volatile __u16 drop_udp_port = 9;
__u64 dropped;

/* Counts the packet under its protocol and returns the IPv4 header, or NULL for non-IPv4. */
static __always_inline struct iphdr *count(struct __sk_buff *skb, __u8 hook)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = NULL;
	struct proto_key key = { .hook = hook };
	__u64 one = 1, *v;

	if ((void *)(eth + 1) > data_end)
		return NULL;
	key.h_proto = bpf_ntohs(eth->h_proto);
	if (key.h_proto == ETH_P_IP) {
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			ip = NULL;
		else
			key.ip_proto = ip->protocol;
	}
	v = bpf_map_lookup_elem(&proto_counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&proto_counts, &key, &one, BPF_NOEXIST);
	return ip;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	count(skb, HOOK_TC);
	return TC_ACT_OK;
}

SEC("tcx/ingress")
int tcx_ingress_count(struct __sk_buff *skb)
{
	count(skb, HOOK_TCX_INGRESS);
	return TC_ACT_OK;
}

SEC("tcx/egress")
int tcx_egress_count(struct __sk_buff *skb)
{
	count(skb, HOOK_TCX_EGRESS);
	return TC_ACT_OK;
}

SEC("tc")
int tc_drop_udp(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = count(skb, HOOK_DROP);
	struct udphdr *udp;

	if (!ip || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return TC_ACT_OK;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return TC_ACT_OK;
	if (udp->dest != bpf_htons(drop_udp_port))
		return TC_ACT_OK;
	__sync_fetch_and_add(&dropped, 1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
