// SPDX-License-Identifier: GPL-2.0
/*
 * The README demo's IO module: counts packets and bytes per IP protocol on the interface it is
 * attached to (XDP), and passes everything.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct counters);
} by_proto SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 proto = 0;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		proto = ip->protocol;
	} else {
		proto = 0x10000 | bpf_ntohs(eth->h_proto);
	}

	struct counters *c = bpf_map_lookup_elem(&by_proto, &proto);
	if (!c) {
		struct counters zero = {};

		bpf_map_update_elem(&by_proto, &proto, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&by_proto, &proto);
		if (!c)
			return XDP_PASS;
	}
	c->packets++;
	c->bytes += data_end - data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
