// SPDX-License-Identifier: GPL-2.0
/*
 * tailcall.bpf.c: a PROG_ARRAY statically initialised with a program.
 *
 * jmp_table: PROG_ARRAY, 4 entries, statically { [1] = &prog_b }; the loader must load
 * prog_b and write its fd into slot 1.
 * prog_a, SEC("xdp"): a_runs += 1, then bpf_tail_call(ctx, &jmp_table, 1). If the tail call
 *   fails (slot 1 empty), fallthrough += 1 and it returns XDP_DROP (1).
 * prog_b, SEC("xdp"): b_runs += 1, returns XDP_TX (3).
 * All counters are u64 in .bss.
 *
 * One run of prog_a (any frame, slot 1 filled) returns 3 and leaves
 *   .bss a_runs = 1, b_runs = 1, fallthrough = 0.
 * One run of prog_b returns 3 and leaves a_runs = 0, b_runs = 1, fallthrough = 0.
 * With slot 1 deleted, one run of prog_a returns 1 and leaves a_runs = 1, b_runs = 0,
 * fallthrough = 1.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 a_runs;
__u64 b_runs;
__u64 fallthrough;

SEC("xdp")
int prog_b(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&b_runs, 1);
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(void *));
} jmp_table SEC(".maps") = {
	.values = { [1] = (void *)&prog_b },
};

SEC("xdp")
int prog_a(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&a_runs, 1);
	bpf_tail_call(ctx, &jmp_table, 1);
	__sync_fetch_and_add(&fallthrough, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
