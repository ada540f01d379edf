// SPDX-License-Identifier: GPL-2.0
/*
 * legacy_maps.bpf.c: the pre-BTF map definition style, SEC("maps") struct bpf_map_def.
 *
 * libbpf 1.0 dropped support for this style, so bpftool 7.1 / libbpf 1.1 refuse the object
 * ("legacy map definitions in 'maps' section are not supported by libbpf v1.0+"). That is
 * expected: the object exists to prove that iovisor's loader still reads it, as cilium/ebpf
 * and aya do. struct bpf_map_def is declared here because libbpf's headers no longer do; its
 * layout is the classic five u32 fields (type, key_size, value_size, max_entries, map_flags),
 * 20 bytes per map, and the map name is the ELF symbol name.
 *
 *   legacy_counts  ARRAY, key 4 bytes, value 8 bytes (u64), 4 entries
 *   legacy_hash    HASH,  key 4 bytes, value 8 bytes (u64), 16 entries
 * The section carries no BTF for keys and values, so a dump shows raw bytes.
 *
 * Program xdp_legacy, SEC("xdp"), per run: legacy_counts[0] += 1 and
 * legacy_hash[frame length] += 1 (inserted as 1 when absent); returns XDP_PASS (2).
 * One run with "udp4_dport7" (64 bytes) returns 2 and leaves legacy_counts {0: 1, 1: 0, 2: 0,
 * 3: 0} and legacy_hash {64: 1}.
 * Kernel: needs 5.18+ for bpf_xdp_get_buff_len (older kernels reject the helper call).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

SEC("xdp")
int xdp_legacy(struct xdp_md *ctx)
{
	__u32 zero = 0, len = bpf_xdp_get_buff_len(ctx);
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&legacy_counts, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&legacy_hash, &len);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&legacy_hash, &len, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
