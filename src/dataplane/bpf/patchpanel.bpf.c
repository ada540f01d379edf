// SPDX-License-Identifier: GPL-2.0
/*
 * The patch panel's own programs. tc build: the entry stub on tcx ingress of every port netdev
 * and of the loop device, and the packet-out injector the controllers run through
 * BPF_PROG_TEST_RUN. XDP build (-DIOV_XDP): the entry stub on the port netdevs of instances on
 * the XDP hook, and the XDP_PASS stub on the host side of their veth pairs.
 */
#include "iov.h"

/* ifindex (in the data plane namespace) -> gid of the port bound to that netdev. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_ifports SEC(".maps");

#ifdef IOV_XDP
/*
 * XDP on the port netdevs of instances on hook xdp: room for the position in the metadata,
 * then on like the tc entry. A frame that is not for a port (or finds no room) goes up to tc.
 */
SEC("xdp")
int iov_entry(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 *gid = bpf_map_lookup_elem(&iov_ifports, &ifindex);
	struct iov_meta *m;
	if (!gid)
		return XDP_PASS;
	/* Room for the position, unless the frame already has it (test-run repeats one buffer). */
	if (!iov_meta_of(ctx) && bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct iov_meta)))
		return XDP_PASS;
	m = iov_meta_of(ctx);
	if (!m)
		return XDP_PASS;
	m->gid = *gid;
	m->cb1 = IOV_DIR_IN;
	m->punt = 0;
	m->slot = 0;
	return iov_continue(ctx);
}

/*
 * On the host side of an XDP port's veth pair: a veth delivers frames redirected into it
 * from XDP only when its peer runs XDP (that gives it the NAPI context that receives them).
 */
SEC("xdp")
int iov_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
#else
/*
 * tcx ingress of port netdevs and of the loop device. A frame the XDP build handed up (XDP
 * metadata with the punt mark) resumes where XDP left it; a marked packet is a clone or a
 * packet-out re-entering at a port; anything else arrived from the wire of a port netdev.
 */
SEC("tc")
int iov_entry(struct __sk_buff *skb)
{
	struct iov_meta *m = (void *)(long)skb->data_meta;
	if ((void *)(m + 1) <= (void *)(long)skb->data && m->punt == IOV_META_PUNT) {
		__u32 slot = m->slot;
		m->punt = 0;
		iov_cb_set0(skb, m->gid);
		iov_cb_set1(skb, m->cb1);
		if (!slot)
			return iov_continue(skb);
		bpf_tail_call(skb, &iov_patch, slot);
		return iov_drop(skb);
	}
	__u32 mark = skb->mark;
	if ((mark & IOV_MARK_MAGIC_MASK) == IOV_MARK_MAGIC) {
		skb->mark = 0;
		iov_cb_set0(skb, mark & 0xffff);
		iov_cb_set1(skb, (mark >> 16) & 1);
		return iov_continue(skb);
	}
	__u32 ifindex = skb->ifindex;
	__u32 *gid = bpf_map_lookup_elem(&iov_ifports, &ifindex);
	if (!gid)
		return TC_ACT_OK;
	iov_cb_set0(skb, *gid);
	iov_cb_set1(skb, IOV_DIR_IN);
	return iov_continue(skb);
}

/*
 * tcx ingress on the host side of an XDP port's veth pair. A frame a host sends leaves its veth
 * with CHECKSUM_PARTIAL (the L4 checksum is left to "the hardware"); when XDP redirects it, that
 * state is lost and the receiving host would drop it as a bad checksum. Veth itself hands such
 * skbs on trusted; this does the same for what arrives through XDP (CHECKSUM_NONE becomes
 * CHECKSUM_UNNECESSARY; a frame that still carries checksum state is left alone).
 */
SEC("tc")
int iov_host_rx(struct __sk_buff *skb)
{
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) < 0)
		bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	return TC_ACT_OK;
}

/*
 * Packet-out, run by BPF_PROG_TEST_RUN inside the data plane namespace with cb[0] = gid and
 * cb[1] = direction: the frame re-enters through the loop device and goes on from that port.
 */
SEC("tc")
int iov_pktout(struct __sk_buff *skb)
{
	__u32 k = IOV_CFG_LOOP_IFINDEX;
	__u32 *loop = bpf_map_lookup_elem(&iov_cfg, &k);
	if (!loop || !*loop)
		return TC_ACT_SHOT;
	skb->mark = IOV_MARK_MAGIC | ((iov_cb_get1(skb) & 1) << 16) | (iov_cb_get0(skb) & 0xffff);
	if (bpf_clone_redirect(skb, *loop, BPF_F_INGRESS) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
#endif

char LICENSE[] SEC("license") = "GPL";
