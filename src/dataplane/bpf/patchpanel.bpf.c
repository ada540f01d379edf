// SPDX-License-Identifier: GPL-2.0
/*
 * The patch panel's own programs: the entry stub on every port netdev and on the loop device,
 * and the packet-out injector the controllers run through BPF_PROG_TEST_RUN.
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

/*
 * tcx ingress of port netdevs and of the loop device. A marked packet is a clone or a
 * packet-out re-entering at a port; anything else arrived from the wire of a port netdev.
 */
SEC("tc")
int iov_entry(struct __sk_buff *skb)
{
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

char LICENSE[] SEC("license") = "GPL";
