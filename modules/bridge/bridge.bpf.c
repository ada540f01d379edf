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
static __always_inline int tag_for(iov_ctx_t *ctx, struct br_port *p, __u16 vid)
{
	if (p->mode == BR_MODE_TRUNK && vid != p->pvid)
		return iov_vlan_push(ctx, vid) ? -1 : 1;
	return 0;
}

SEC(IOV_SEC)
int bridge(iov_ctx_t *ctx)
{
	iov_trace(ctx, IOV_TR_IN, 0);
	__u32 in = iov_in_port(ctx);
	struct br_port *ip = bpf_map_lookup_elem(&br_ports, &in);
	__u32 zero = 0;
	struct br_config *cfg = bpf_map_lookup_elem(&br_config, &zero);
	void *data = iov_data(ctx);
	void *data_end = iov_data_end(ctx);
	struct ethhdr *eth = data;
	struct br_fdb_key src = {}, dst = {};
	__u16 vid;
	int tagged = 0;
	__u64 now = bpf_ktime_get_ns();

	if (!ip || !ip->enabled || !cfg)
		return iov_drop(ctx);
	if ((void *)(eth + 1) > data_end)
		return iov_drop(ctx);
	__builtin_memcpy(src.mac, eth->h_source, 6);
	__builtin_memcpy(dst.mac, eth->h_dest, 6);

	/*
	 * XDP build: frames entering through a trunk port are the tc build's (veth hands XDP the
	 * frame without its out-of-band tag); hand them over before anything changed. Untagged
	 * frames from access ports stay here, tagged on the way out to a trunk (iov_vlan_push).
	 */
	if (IOV_IS_XDP && (ip->mode == BR_MODE_TRUNK || eth->h_proto == bpf_htons(ETH_P_8021Q)))
		return iov_punt_here(ctx);
	if (iov_vlan_present(ctx)) {
		vid = iov_vlan_tci(ctx) & 0xfff;
		tagged = 1;
	} else if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr {
			__be16 tci;
			__be16 proto;
		} *vh = (void *)(eth + 1);
		if ((void *)(vh + 1) > data_end)
			return iov_drop(ctx);
		vid = bpf_ntohs(vh->tci) & 0xfff;
		tagged = 1;
	} else {
		vid = ip->pvid;
	}
	if (tagged) {
		if (ip->mode != BR_MODE_TRUNK || !vlan_ok(ip, vid))
			return iov_drop(ctx);
		if (iov_vlan_pop(ctx))
			return iov_drop(ctx);
	} else if (!vid) {
		return iov_drop(ctx);
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
				iov_trace(ctx, IOV_TR_FILTER, 0);
				return IOV_SHOT; /* filtered: the destination is behind the ingress port */
			}
			op = bpf_map_lookup_elem(&br_ports, &out);
			if (!op || !op->enabled || !vlan_ok(op, vid))
				return iov_drop(ctx);
			if (tag_for(ctx, op, vid) < 0)
				return iov_drop(ctx);
			return iov_out(ctx, out);
		}
	}

	/* Flood: a clone out of every other port in the VLAN (the tc build's job). */
	if (IOV_IS_XDP)
		return iov_punt_here(ctx);
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
		t = tag_for(ctx, op, vid);
		if (t < 0)
			continue;
		iov_clone_out(ctx, i);
		if (t > 0)
			iov_vlan_pop(ctx);
	}
	return IOV_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
