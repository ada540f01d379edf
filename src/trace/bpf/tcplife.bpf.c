// SPDX-License-Identifier: GPL-2.0
/*
 * tcplife: one record per TCP session when it closes, with its duration and bytes sent and
 * received, all from the sock/inet_sock_set_state tracepoint (libbpf-tools' approach). Birth
 * is the last state change before FIN_WAIT1; the owner is the task seen at SYN_SENT (active
 * open) or LAST_ACK (passive close), else the task running at CLOSE.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "trace.h"

#define AF_INET 2
#define IPPROTO_TCP 6

const volatile __u16 targ_sport = 0;
const volatile __u16 targ_dport = 0;

struct ident {
	__u32 pid;
	__u32 tid;
	char comm[TASK_COMM_LEN];
};

struct life_event {
	__u64 ts;
	__u64 span_ns;
	__u64 rx_b;
	__u64 tx_b;
	__u32 pid;
	__u32 tid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} birth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct ident);
} idents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct life_event in the object's BTF, so its layout can be checked and decoded. */
struct life_event *unused_life_event __attribute__((unused));

__u64 dropped = 0;

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *args)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	if (targ_sport && args->sport != targ_sport)
		return 0;
	if (targ_dport && args->dport != targ_dport)
		return 0;
	__u64 sk = (__u64)args->skaddr;
	int newstate = args->newstate;
	if (newstate < TCP_FIN_WAIT1) {
		__u64 ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&birth, &sk, &ts, BPF_ANY);
	}
	if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
		__u64 id = bpf_get_current_pid_tgid();
		struct ident i = { .pid = id >> 32, .tid = (__u32)id };
		bpf_get_current_comm(i.comm, sizeof(i.comm));
		bpf_map_update_elem(&idents, &sk, &i, BPF_ANY);
	}
	if (newstate != TCP_CLOSE)
		return 0;

	__u64 *start = bpf_map_lookup_elem(&birth, &sk);
	if (!start) {
		bpf_map_delete_elem(&idents, &sk);
		return 0;
	}
	struct life_event e = {};
	e.ts = bpf_ktime_get_ns();
	e.span_ns = e.ts - *start;
	struct ident *i = bpf_map_lookup_elem(&idents, &sk);
	if (i) {
		e.pid = i->pid;
		e.tid = i->tid;
		__builtin_memcpy(e.comm, i->comm, sizeof(e.comm));
	} else {
		__u64 id = bpf_get_current_pid_tgid();
		e.pid = id >> 32;
		e.tid = (__u32)id;
		bpf_get_current_comm(e.comm, sizeof(e.comm));
	}
	if (targ_tgid && e.pid != targ_tgid)
		goto cleanup;
	if (!comm_allowed(e.comm))
		goto cleanup;
	struct tcp_sock *tp = (struct tcp_sock *)args->skaddr;
	e.rx_b = BPF_CORE_READ(tp, bytes_received);
	e.tx_b = BPF_CORE_READ(tp, bytes_acked);
	e.family = args->family;
	e.sport = args->sport;
	e.dport = args->dport;
	if (args->family == AF_INET) {
		bpf_probe_read_kernel(e.saddr, 4, args->saddr);
		bpf_probe_read_kernel(e.daddr, 4, args->daddr);
	} else {
		bpf_probe_read_kernel(e.saddr, 16, args->saddr_v6);
		bpf_probe_read_kernel(e.daddr, 16, args->daddr_v6);
	}
	if (bpf_ringbuf_output(&events, &e, sizeof(e), rb_wake_flags(&events)))
		__sync_fetch_and_add(&dropped, 1);
cleanup:
	bpf_map_delete_elem(&birth, &sk);
	bpf_map_delete_elem(&idents, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
