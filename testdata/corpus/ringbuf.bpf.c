// SPDX-License-Identifier: GPL-2.0
/*
 * ringbuf.bpf.c: events to user space through a BPF ring buffer and a perf event array.
 *
 * Both programs send the same 104-byte record, struct event:
 *   offset 0   u32 pid        tgid of the current task (0 from XDP)
 *   offset 4   u32 kind       1 = openat (tracepoint), 2 = xdp
 *   offset 8   u64 value      openat flags, or the frame length for xdp
 *   offset 16  char comm[16]  current task's comm, or "xdp_emit" for xdp
 *   offset 32  char filename[72]  openat path (NUL-terminated, truncated), or the first
 *                             8 bytes of the frame (destination MAC + 2) for xdp
 * to the ring buffer `events` (256 KiB, bpf_ringbuf_output) and to the perf event array
 * `perf_events` (bpf_perf_event_output, BPF_F_CURRENT_CPU).
 *
 * trace_openat, SEC("tracepoint/syscalls/sys_enter_openat"): one record per openat(2) call on
 *   the machine; .bss openat_events += 1.
 * xdp_emit, SEC("xdp"): one record per run, returns XDP_PASS (2); .bss xdp_events += 1,
 *   .bss ringbuf_errors += 1 if bpf_ringbuf_output failed; perf output failures (expected
 *   when no perf event is open on the CPU: -ENOENT) are counted in .bss perf_errors.
 *
 * One test-run of xdp_emit with "udp4_dport7" (64 bytes) returns 2, leaves xdp_events = 1,
 * ringbuf_errors = 0, perf_errors = 1 (nobody opened a perf buffer), and one ring-buffer
 * record {pid 0, kind 2, value 64, comm "xdp_emit", filename bytes
 * 02 00 00 00 00 02 02 00 then zeros}. Ring buffers need kernel 5.8+.
 * Kernel: needs 5.18+ for bpf_xdp_get_buff_len (older kernels reject the helper call).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define KIND_OPENAT 1
#define KIND_XDP 2

struct event {
	__u32 pid;
	__u32 kind;
	__u64 value;
	char comm[16];
	char filename[72];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

/* Layout of /sys/kernel/tracing/events/syscalls/sys_enter_openat/format. */
struct sys_enter_openat_args {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 dfd;
	__u64 filename;
	__u64 flags;
	__u64 mode;
};

__u64 openat_events;
__u64 xdp_events;
__u64 ringbuf_errors;
__u64 perf_errors;

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct sys_enter_openat_args *args)
{
	struct event e = {};

	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.kind = KIND_OPENAT;
	e.value = args->flags;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(e.filename, sizeof(e.filename), (const void *)args->filename);
	__sync_fetch_and_add(&openat_events, 1);
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
		__sync_fetch_and_add(&ringbuf_errors, 1);
	if (bpf_perf_event_output(args, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		__sync_fetch_and_add(&perf_errors, 1);
	return 0;
}

SEC("xdp")
int xdp_emit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct event e = {};

	e.kind = KIND_XDP;
	e.value = bpf_xdp_get_buff_len(ctx);
	__builtin_memcpy(e.comm, "xdp_emit", 9);
	if (data + 8 <= data_end)
		__builtin_memcpy(e.filename, data, 8);
	__sync_fetch_and_add(&xdp_events, 1);
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
		__sync_fetch_and_add(&ringbuf_errors, 1);
	if (bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		__sync_fetch_and_add(&perf_errors, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
