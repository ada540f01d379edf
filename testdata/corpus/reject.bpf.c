// SPDX-License-Identifier: GPL-2.0
/*
 * reject.bpf.c: a program the verifier must reject, to test how a loader reports it.
 *
 * Program xdp_reject, SEC("xdp"), reads the Ethernet protocol field straight from packet data
 * without first checking it against data_end. The kernel refuses it with EACCES and a log
 * containing "invalid access to packet" at the load of eth->h_proto, which is line 28 of this
 * file:
 *     if (eth->h_proto == bpf_htons(ETH_P_IP))
 * With line_info the log shows that source line ("@ reject.bpf.c:28"), so a loader's error
 * can name program, instruction and C source line. The object itself is well formed: it
 * compiles warning-free and every other part of it loads.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

__u64 ipv4_frames;

SEC("xdp")
int xdp_reject(struct xdp_md *ctx)
{
	struct ethhdr *eth = (void *)(long)ctx->data;

	/* Missing: if ((void *)(eth + 1) > (void *)(long)ctx->data_end) return XDP_DROP; */
	/* The next line is the one the verifier rejects. */
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		__sync_fetch_and_add(&ipv4_frames, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
