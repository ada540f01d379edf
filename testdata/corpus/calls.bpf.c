// SPDX-License-Identifier: GPL-2.0
/*
 * calls.bpf.c: bpf-to-bpf calls.
 *
 * Program xdp_calls, SEC("xdp"), calls:
 *   - static __noinline scale(x)      = x * 3 + 7          (static subprogram, in .text)
 *   - static __noinline fold(x, y)    = (x ^ y) & 0xff     (static subprogram, two args)
 *   - __noinline int classify(ctx)    global function (non-static): the kernel verifies it
 *                                     on its own; returns 0 when the frame is shorter than
 *                                     64 bytes, 1 when shorter than 128, else 2.
 *   - __noinline int add_checked(a,b) global function taking two scalars; returns a + b,
 *                                     capped at 0xffff.
 * With N = frame length (bpf_xdp_get_buff_len):
 *   s = scale(N); f = fold(s, N); c = classify(ctx); sum = add_checked(s, f)
 *   .bss: last_scale = s, last_fold = f, last_class = c, last_sum = sum, calls = calls + 1
 *   return value = (sum + c) & 3   (always a valid XDP action 0..3)
 *
 * One run with the 64-byte frame "udp4_dport7" (N = 64): s = 199, f = (199 ^ 64) & 0xff = 135,
 *   c = 1, sum = 334, returns (334 + 1) & 3 = 3 (XDP_TX);
 *   .bss calls = 1, last_scale = 199, last_fold = 135, last_class = 1, last_sum = 334.
 * One run with the 54-byte frame "tcp4_syn" (N = 54): s = 169, f = (169 ^ 54) & 0xff = 159,
 *   c = 0, sum = 328, returns 328 & 3 = 0 (XDP_ABORTED);
 *   .bss calls = 1, last_scale = 169, last_fold = 159, last_class = 0, last_sum = 328.
 * Kernel: needs 5.18+ for bpf_xdp_get_buff_len (older kernels reject the helper call).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 last_scale;
__u32 last_fold;
__u32 last_class;
__u32 last_sum;
__u64 calls;

static __noinline __u32 scale(__u32 x)
{
	return x * 3 + 7;
}

static __noinline __u32 fold(__u32 x, __u32 y)
{
	return (x ^ y) & 0xff;
}

__noinline int classify(struct xdp_md *ctx)
{
	__u32 len;

	if (!ctx)
		return 0;
	len = bpf_xdp_get_buff_len(ctx);
	if (len < 64)
		return 0;
	if (len < 128)
		return 1;
	return 2;
}

__noinline int add_checked(__u32 a, __u32 b)
{
	__u32 sum = a + b;

	if (sum > 0xffff)
		return 0xffff;
	return sum;
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	__u32 n = bpf_xdp_get_buff_len(ctx);
	__u32 s = scale(n);
	__u32 f = fold(s, n);
	int c = classify(ctx);
	int sum = add_checked(s, f);

	last_scale = s;
	last_fold = f;
	last_class = c;
	last_sum = sum;
	__sync_fetch_and_add(&calls, 1);
	return (sum + c) & 3;
}

char LICENSE[] SEC("license") = "GPL";
