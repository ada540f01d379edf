// SPDX-License-Identifier: GPL-2.0
/*
 * map_in_map.bpf.c: maps of maps with static initialisation.
 *
 * Inner maps inner_a and inner_b: ARRAY, 4 entries, u32 -> u64 (same struct inner_map type).
 * outer_array: ARRAY_OF_MAPS, 2 entries, statically { [0] = &inner_a, [1] = &inner_b }.
 * outer_hash:  HASH_OF_MAPS, 4 entries, statically { [0] = &inner_b, [1] = &inner_a } (the
 *              reverse order, so a loader that mixes up slots is caught).
 * The loader must create the inner maps first and write their fds into the outer maps.
 *
 * Program xdp_map_in_map, SEC("xdp"), per run:
 *   outer_array[0] (inner_a): element 0 += 1
 *   outer_hash[0]  (inner_b): element 1 += 2
 *   outer_hash[1]  (inner_a): element 2 += 3
 *   returns XDP_PASS (2) when all three lookups found their map, else XDP_DROP (1).
 *
 * One run with any frame returns 2 and leaves:
 *   inner_a = {0: 1, 1: 0, 2: 3, 3: 0}
 *   inner_b = {0: 0, 1: 2, 2: 0, 3: 0}
 *   outer_array = {0: id(inner_a), 1: id(inner_b)}, outer_hash = {0: id(inner_b), 1: id(inner_a)}
 * Kernel: static map-in-map initialisation is done by the loader, so any kernel with
 * map-in-map (4.12+) works.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_hash SEC(".maps") = {
	.values = { [0] = &inner_b, [1] = &inner_a },
};

static __always_inline int bump(void *outer, __u32 outer_key, __u32 elem, __u64 by)
{
	void *inner = bpf_map_lookup_elem(outer, &outer_key);
	__u64 *v;

	if (!inner)
		return 0;
	v = bpf_map_lookup_elem(inner, &elem);
	if (!v)
		return 0;
	__sync_fetch_and_add(v, by);
	return 1;
}

SEC("xdp")
int xdp_map_in_map(struct xdp_md *ctx)
{
	int found = 0;

	found += bump(&outer_array, 0, 0, 1);
	found += bump(&outer_hash, 0, 1, 2);
	found += bump(&outer_hash, 1, 2, 3);
	return found == 3 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
