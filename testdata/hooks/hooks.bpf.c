/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Programs for the hooks that need no network namespace: cgroup_skb (count and drop UDP by
 * port), a socket filter (truncate what a socket receives) and a perf_event sampler. Each
 * counts into `counts` so a test can assert exact numbers; the ports come from .rodata so the
 * test sets them before load.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define C_EGRESS 0
#define C_INGRESS_DROP 1
#define C_SOCKET 2
#define C_SAMPLE 3

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* UDP destination port counted on egress; UDP destination port dropped on ingress. */
volatile const __u16 count_port = 0;
volatile const __u16 drop_port = 0;
/* Bytes a filtered socket keeps of each datagram (after the UDP header). */
volatile const __u32 keep_bytes = 4;

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* cgroup_skb data starts at the IP header. Returns the UDP destination port, or 0. */
static __always_inline __u16 udp_dport(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.version != 4 ||
	    ip.protocol != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)))
		return 0;
	return bpf_ntohs(udp.dest);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	if (count_port && udp_dport(skb) == count_port)
		bump(C_EGRESS);
	return 1;
}

SEC("cgroup_skb/ingress")
int drop_ingress(struct __sk_buff *skb)
{
	if (drop_port && udp_dport(skb) == drop_port) {
		bump(C_INGRESS_DROP);
		return 0;
	}
	return 1;
}

/* A socket filter's return value is how many bytes of the packet the socket keeps. */
SEC("socket")
int truncate_socket(struct __sk_buff *skb)
{
	bump(C_SOCKET);
	return sizeof(struct udphdr) + keep_bytes;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	bump(C_SAMPLE);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
