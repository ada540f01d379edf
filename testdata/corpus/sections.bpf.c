// SPDX-License-Identifier: GPL-2.0
/*
 * sections.bpf.c: one program per common SEC() name not covered by the other objects, so a
 * loader's section table (program type + expected attach type) is exercised.
 *
 *   program            SEC                                    type (expected attach type)
 *   socket_filter      socket                                 SOCKET_FILTER
 *   tp_openat          tracepoint/syscalls/sys_enter_openat   TRACEPOINT
 *   raw_tp_sys_enter   raw_tp/sys_enter                       RAW_TRACEPOINT
 *   cgroup_ingress     cgroup_skb/ingress                     CGROUP_SKB (BPF_CGROUP_INET_INGRESS)
 *   cgroup_egress      cgroup_skb/egress                      CGROUP_SKB (BPF_CGROUP_INET_EGRESS)
 *   uprobe_any         uprobe                                 KPROBE (no target: attach by hand)
 *   xdp_frags          xdp.frags                              XDP with BPF_F_XDP_HAS_FRAGS
 *   perf_sample        perf_event                             PERF_EVENT
 *
 * Every program adds 1 to its own u64 counter in .bss (named after the program with a
 * "hits_" prefix) and returns:
 *   socket_filter   the number of bytes to keep: skb->len (test-run of a 64-byte Ethernet
 *                   frame gives 50: the kernel strips the 14-byte Ethernet header for
 *                   non-L2 program types before running them);
 *   cgroup_ingress  1 (allow), cgroup_egress 1 (allow);
 *   xdp_frags       XDP_PASS (2), and stores bpf_xdp_get_buff_len in .bss frags_len;
 *   the tracing ones 0.
 * tp_openat also stores the openat flags argument in .bss last_openat_flags; uprobe_any stores
 * the first argument register (PT_REGS_PARM1) in .bss last_uprobe_arg; perf_sample stores
 * the sample period in .bss last_sample_period.
 *
 * Test-runnable with one 64-byte frame ("udp4_dport7"): socket_filter (returns 50),
 * cgroup_ingress (1), cgroup_egress (1), xdp_frags (2, frags_len = 64). Each leaves only its
 * own hits_* counter at 1. The tracing programs are triggered by attaching them.
 * Kernel: xdp.frags and bpf_xdp_get_buff_len need 5.18+; everything else 5.x.
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 hits_socket_filter;
__u64 hits_tp_openat;
__u64 hits_raw_tp_sys_enter;
__u64 hits_cgroup_ingress;
__u64 hits_cgroup_egress;
__u64 hits_uprobe_any;
__u64 hits_xdp_frags;
__u64 hits_perf_sample;
__u64 last_openat_flags;
__u64 last_uprobe_arg;
__u64 last_sample_period;
__u32 frags_len;

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

SEC("socket")
int socket_filter(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits_socket_filter, 1);
	return skb->len;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(struct sys_enter_openat_args *args)
{
	__sync_fetch_and_add(&hits_tp_openat, 1);
	last_openat_flags = args->flags;
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__sync_fetch_and_add(&hits_raw_tp_sys_enter, 1);
	return 0;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits_cgroup_ingress, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits_cgroup_egress, 1);
	return 1;
}

SEC("uprobe")
int uprobe_any(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&hits_uprobe_any, 1);
	last_uprobe_arg = PT_REGS_PARM1(ctx);
	return 0;
}

SEC("xdp.frags")
int xdp_frags(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&hits_xdp_frags, 1);
	frags_len = bpf_xdp_get_buff_len(ctx);
	return XDP_PASS;
}

SEC("perf_event")
int perf_sample(struct bpf_perf_event_data *ctx)
{
	__sync_fetch_and_add(&hits_perf_sample, 1);
	last_sample_period = ctx->sample_period;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
