// SPDX-License-Identifier: GPL-2.0
/*
 * tcpconnect: one record per active TCP open (connect), without kprobes. The sock's move to
 * SYN_SENT happens inside connect(2), so the caller's pid and comm are recorded then; the
 * record is sent when the sock leaves SYN_SENT (ESTABLISHED, or CLOSE when refused), when the
 * source port is known, with the outcome and the handshake latency. Hook: the stable
 * sock/inet_sock_set_state tracepoint.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "trace.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

const volatile __u16 targ_dport = 0;

struct ident {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

struct connect_event {
	__u64 ts;
	__u64 latency_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 newstate;
	__u32 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
};

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

/* Keeps struct connect_event in the object's BTF, so its layout can be checked and decoded. */
struct connect_event *unused_connect_event __attribute__((unused));

__u64 dropped = 0;

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *args)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)args->skaddr;
	if (args->newstate == TCP_SYN_SENT) {
		if (!current_allowed())
			return 0;
		if (targ_dport && args->dport != targ_dport)
			return 0;
		__u64 id = bpf_get_current_pid_tgid();
		struct ident i = {};
		i.ts = bpf_ktime_get_ns();
		i.pid = id >> 32;
		i.tid = (__u32)id;
		i.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(i.comm, sizeof(i.comm));
		bpf_map_update_elem(&idents, &sk, &i, BPF_ANY);
		return 0;
	}
	if (args->oldstate != TCP_SYN_SENT)
		return 0;
	struct ident *i = bpf_map_lookup_elem(&idents, &sk);
	if (!i)
		return 0;
	struct connect_event e = {};
	e.ts = bpf_ktime_get_ns();
	e.latency_ns = e.ts - i->ts;
	e.pid = i->pid;
	e.tid = i->tid;
	e.uid = i->uid;
	e.family = args->family;
	e.sport = args->sport;
	e.dport = args->dport;
	e.newstate = args->newstate;
	__builtin_memcpy(e.comm, i->comm, sizeof(e.comm));
	if (args->family == AF_INET) {
		bpf_probe_read_kernel(e.saddr, 4, args->saddr);
		bpf_probe_read_kernel(e.daddr, 4, args->daddr);
	} else {
		bpf_probe_read_kernel(e.saddr, 16, args->saddr_v6);
		bpf_probe_read_kernel(e.daddr, 16, args->daddr_v6);
	}
	bpf_map_delete_elem(&idents, &sk);
	if (bpf_ringbuf_output(&events, &e, sizeof(e), rb_wake_flags(&events)))
		__sync_fetch_and_add(&dropped, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
