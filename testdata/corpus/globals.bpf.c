// SPDX-License-Identifier: GPL-2.0
/*
 * globals.bpf.c: global variables in .rodata, .data and .bss.
 *
 * Program xdp_globals, SEC("xdp"). Each run:
 *   - increments the .bss counter `runs` by 1 (starts at 0);
 *   - increments the .data variable `data_counter` by 1 (starts at 100);
 *   - stores the frame length (bpf_xdp_get_buff_len) in the .bss variable `last_len`;
 *   - returns the .rodata variable `xdp_verdict` (const volatile, default XDP_PASS = 2).
 * .data also holds `greeting` = "iovisor" (never written), .rodata also holds
 * `config_tag` = "corpus-v1" (never written) so a loader can check string initialisers.
 *
 * One run with any frame of N bytes returns 2 and leaves:
 *   .bss    runs = 1, last_len = N
 *   .data   data_counter = 101, greeting = "iovisor"
 *   .rodata xdp_verdict = 2, config_tag = "corpus-v1"
 * Setting xdp_verdict before load (e.g. to XDP_DROP = 1) changes the return value.
 * Kernel: needs 5.18+ for bpf_xdp_get_buff_len (older kernels reject the helper call).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 xdp_verdict = XDP_PASS;
const volatile char config_tag[16] = "corpus-v1";

__u64 data_counter = 100;
char greeting[8] = "iovisor";

__u64 runs;
__u32 last_len;

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&runs, 1);
	data_counter += 1;
	last_len = bpf_xdp_get_buff_len(ctx);
	return xdp_verdict;
}

char LICENSE[] SEC("license") = "GPL";
