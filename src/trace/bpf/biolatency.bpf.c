// SPDX-License-Identifier: GPL-2.0
/*
 * biolatency: a log2 histogram of block I/O latency from issue (or insert with targ_queued)
 * to completion, in microseconds (or ms), overall or per disk (per_disk: key = dev_t as
 * major << 20 | minor). Hooks: tp_btf block_rq_insert/issue/complete, or raw_tp fallbacks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

const volatile __u8 targ_queued = 0;
const volatile __u8 per_disk = 0;
const volatile __u8 targ_ms = 0;
const volatile __u32 targ_dev = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero_hist;

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	__u32 major = BPF_CORE_READ(disk, major);
	__u32 minor = BPF_CORE_READ(disk, first_minor);
	return (major << 20) | minor;
}

static __always_inline int on_start(struct request *rq)
{
	if (targ_dev && rq_dev(rq) != targ_dev)
		return 0;
	__u64 key = (__u64)rq;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_complete(struct request *rq)
{
	__u64 key = (__u64)rq;
	__u64 *tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	if ((__s64)delta < 0)
		return 0;
	__u32 hkey = per_disk ? rq_dev(rq) : 0;
	struct hist *h = bpf_map_lookup_elem(&hists, &hkey);
	if (!h) {
		bpf_map_update_elem(&hists, &hkey, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &hkey);
		if (!h)
			return 0;
	}
	hist_add(h, targ_ms ? delta / 1000000 : delta / 1000);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(btf_block_rq_insert, struct request *rq)
{
	return targ_queued ? on_start(rq) : 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(btf_block_rq_issue, struct request *rq)
{
	if (targ_queued) {
		/* Keep the insert time; requests that skipped the scheduler start here. */
		__u64 key = (__u64)rq;
		if (bpf_map_lookup_elem(&start, &key))
			return 0;
	}
	return on_start(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(btf_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	return on_complete(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(raw_block_rq_insert, struct request *rq)
{
	return targ_queued ? on_start(rq) : 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_block_rq_issue, struct request *rq)
{
	if (targ_queued) {
		__u64 key = (__u64)rq;
		if (bpf_map_lookup_elem(&start, &key))
			return 0;
	}
	return on_start(rq);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(raw_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	return on_complete(rq);
}

char LICENSE[] SEC("license") = "GPL";
