// SPDX-License-Identifier: GPL-2.0
/*
 * syscount: counts system calls per syscall number (or per process with per_process), with
 * the total time spent in them (latency) and the number that failed. Hooks: raw_tp
 * sys_enter/sys_exit, or the raw_syscalls/sys_{enter,exit} tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

const volatile __u8 per_process = 0;
const volatile __u8 measure_latency = 1;
const volatile __u8 failures_only = 0;
const volatile __s32 targ_errno = 0;
const volatile __s32 targ_syscall = -1;

struct data_t {
	__u64 count;
	__u64 total_ns;
	__u64 errors;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct data_t);
} data SEC(".maps");

static struct data_t zero;

static __always_inline int on_enter(long nr)
{
	if (!measure_latency)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!task_allowed(id))
		return 0;
	if (targ_syscall >= 0 && nr != targ_syscall)
		return 0;
	__u32 tid = (__u32)id;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(long nr, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!task_allowed(id))
		return 0;
	/* Unknown (-1) when the exit is from a restarted or ptrace-skipped call. */
	if (nr < 0)
		return 0;
	if (targ_syscall >= 0 && nr != targ_syscall)
		return 0;
	if (failures_only && ret >= 0)
		return 0;
	if (targ_errno && ret != -targ_errno)
		return 0;
	char comm[TASK_COMM_LEN] = {};
	if (filter_comm || per_process) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_allowed(comm))
			return 0;
	}
	__u32 tid = (__u32)id;
	__u64 delta = 0;
	if (measure_latency) {
		/* A call already in flight when tracing started is counted without a latency. */
		__u64 *tsp = bpf_map_lookup_elem(&start, &tid);
		if (tsp) {
			delta = bpf_ktime_get_ns() - *tsp;
			bpf_map_delete_elem(&start, &tid);
		}
	}
	__u32 key = per_process ? (__u32)(id >> 32) : (__u32)nr;
	struct data_t *d = bpf_map_lookup_elem(&data, &key);
	if (!d) {
		bpf_map_update_elem(&data, &key, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&data, &key);
		if (!d)
			return 0;
		if (per_process)
			__builtin_memcpy(d->comm, comm, sizeof(comm));
	}
	__sync_fetch_and_add(&d->count, 1);
	if (delta)
		__sync_fetch_and_add(&d->total_ns, delta);
	if (ret < 0)
		__sync_fetch_and_add(&d->errors, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	return on_enter(nr);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	return on_exit(BPF_CORE_READ(regs, orig_ax), ret);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int tp_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->id);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int tp_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->id, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
