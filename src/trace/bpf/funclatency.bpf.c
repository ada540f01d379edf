// SPDX-License-Identifier: GPL-2.0
/*
 * funclatency: a log2 histogram of how long a user-space function takes, from a uprobe at its
 * entry to a uretprobe at its return, per thread (recursion keeps the outermost call), in
 * nanoseconds, microseconds or milliseconds (units: 0, 1, 2).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

const volatile __u8 units = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(func_entry)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!current_allowed())
		return 0;
	__u32 tid = (__u32)id;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_NOEXIST);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(func_exit)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	__u64 *tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	if ((__s64)delta < 0)
		return 0;
	struct hist *h = bpf_map_lookup_elem(&hists, &zero);
	if (!h)
		return 0;
	if (units == 1)
		delta /= 1000;
	else if (units == 2)
		delta /= 1000000;
	hist_add(h, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
