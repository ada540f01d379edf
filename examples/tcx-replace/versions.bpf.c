// SPDX-License-Identifier: GPL-2.0
/*
 * versions.bpf.c: two versions of one tcx ingress program. Both let every packet through
 * (TC_ACT_OK) and count it in the array `hits`: count_v1 in slot 1, count_v2 in slot 2, so
 * user space can tell which version saw which packet after an atomic replacement.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}

SEC("tcx/ingress")
int count_v1(struct __sk_buff *skb)
{
	return count(1);
}

SEC("tcx/ingress")
int count_v2(struct __sk_buff *skb)
{
	return count(2);
}

char LICENSE[] SEC("license") = "GPL";
