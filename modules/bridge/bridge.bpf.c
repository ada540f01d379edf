// SPDX-License-Identifier: GPL-2.0
/*
 * bridge: an 802.1Q learning switch as an iovisor IO module. MAC learning per VLAN with
 * aging, static entries, flooding of broadcast/multicast/unknown unicast, access and trunk
 * ports. State lives in pinned maps, so a hot swap to a new build keeps the learned table.
 */
#include "../../src/dataplane/bpf/iov.h"

#ifndef BRIDGE_VERSION
#define BRIDGE_VERSION 1
#endif

#define BR_MAX_PORTS IOV_FLOOD_MAX
#define BR_MODE_ACCESS 0
#define BR_MODE_TRUNK 1
#define BR_LEARN_REFRESH_NS 1000000000ull

/* Read by the controller to tell builds apart (hot swap). */
const volatile __u32 bridge_version = BRIDGE_VERSION;

struct br_port {
	__u8 enabled;
	__u8 mode;
	__u16 pvid;
	__u32 pad;
	__u64 allowed[64]; /* trunk: allowed VLAN bitmap */
};

struct br_fdb_key {
	__u8 mac[6];
	__u16 vlan;
};

#define BR_FDB_STATIC 1
struct br_fdb_entry {
	__u32 port;
	__u32 flags;
	__u64 seen_ns;
};

struct br_config {
	__u64 aging_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BR_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct br_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} br_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct br_fdb_key);
	__type(value, struct br_fdb_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} br_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct br_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} br_config SEC(".maps");

static __always_inline int vlan_ok(struct br_port *p, __u16 vid)
{
	if (vid == p->pvid)
		return 1;
	if (p->mode != BR_MODE_TRUNK)
		return 0;
	return (p->allowed[(vid >> 6) & 63] >> (vid & 63)) & 1;
}

/* Puts the packet in the tagging state port `p` wants for `vid`; the packet is untagged. */
static __always_inline int tag_for(struct __sk_buff *skb, struct br_port *p, __u16 vid)
{
	if (p->mode == BR_MODE_TRUNK && vid != p->pvid)
		return bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), vid) ? -1 : 1;
	return 0;
}

SEC("tc")
int bridge(struct __sk_buff *skb)
{
	iov_trace(skb, IOV_TR_IN, 0);
	__u32 in = iov_in_port(skb);
	struct br_port *ip = bpf_map_lookup_elem(&br_ports, &in);
	__u32 zero = 0;
	struct br_config *cfg = bpf_map_lookup_elem(&br_config, &zero);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct br_fdb_key src = {}, dst = {};
	__u16 vid;
	int tagged = 0;
	__u64 now = bpf_ktime_get_ns();

	if (!ip || !ip->enabled || !cfg)
		return iov_drop(skb);
	if ((void *)(eth + 1) > data_end)
		return iov_drop(skb);
	__builtin_memcpy(src.mac, eth->h_source, 6);
	__builtin_memcpy(dst.mac, eth->h_dest, 6);

	if (skb->vlan_present) {
		vid = skb->vlan_tci & 0xfff;
		tagged = 1;
	} else if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr {
			__be16 tci;
			__be16 proto;
		} *vh = (void *)(eth + 1);
		if ((void *)(vh + 1) > data_end)
			return iov_drop(skb);
		vid = bpf_ntohs(vh->tci) & 0xfff;
		tagged = 1;
	} else {
		vid = ip->pvid;
	}
	if (tagged) {
		if (ip->mode != BR_MODE_TRUNK || !vlan_ok(ip, vid))
			return iov_drop(skb);
		if (bpf_skb_vlan_pop(skb))
			return iov_drop(skb);
	} else if (!vid) {
		return iov_drop(skb);
	}
	src.vlan = vid;
	dst.vlan = vid;

	/* Learn the source (never a multicast address, never over a static entry). */
	if (!(src.mac[0] & 1)) {
		struct br_fdb_entry *e = bpf_map_lookup_elem(&br_fdb, &src);
		if (!e || (!(e->flags & BR_FDB_STATIC) &&
			   (e->port != in || now - e->seen_ns > BR_LEARN_REFRESH_NS))) {
			struct br_fdb_entry ne = { .port = in, .flags = 0, .seen_ns = now };
			if (!e || !(e->flags & BR_FDB_STATIC))
				bpf_map_update_elem(&br_fdb, &src, &ne, BPF_ANY);
		}
	}

	if (!(dst.mac[0] & 1)) {
		struct br_fdb_entry *e = bpf_map_lookup_elem(&br_fdb, &dst);
		if (e && ((e->flags & BR_FDB_STATIC) || now - e->seen_ns <= cfg->aging_ns)) {
			__u32 out = e->port;
			struct br_port *op;
			if (out == in) {
				iov_trace(skb, IOV_TR_FILTER, 0);
				return TC_ACT_SHOT; /* filtered: the destination is behind the ingress port */
			}
			op = bpf_map_lookup_elem(&br_ports, &out);
			if (!op || !op->enabled || !vlan_ok(op, vid))
				return iov_drop(skb);
			if (tag_for(skb, op, vid) < 0)
				return iov_drop(skb);
			return iov_out(skb, out);
		}
	}

	/* Flood: a clone out of every other port in the VLAN. */
#pragma clang loop unroll(full)
	for (__u32 i = 0; i < BR_MAX_PORTS; i++) {
		__u32 key = i;
		struct br_port *op;
		int t;
		if (i == in)
			continue;
		op = bpf_map_lookup_elem(&br_ports, &key);
		if (!op || !op->enabled || !vlan_ok(op, vid))
			continue;
		t = tag_for(skb, op, vid);
		if (t < 0)
			continue;
		iov_clone_out(skb, i);
		if (t > 0)
			bpf_skb_vlan_pop(skb);
	}
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
