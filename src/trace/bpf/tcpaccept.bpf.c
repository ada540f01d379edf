// SPDX-License-Identifier: GPL-2.0
/*
 * tcpaccept: one record per accepted TCP connection, without kprobes. At the exit of
 * accept(2)/accept4(2) the new fd is looked up in the caller's fd table (task->files->fdt) and
 * its struct sock read with CO-RE; non-TCP sockets are skipped. Hooks: syscalls/sys_exit_accept*
 * tracepoints, or raw_tp sys_exit filtered by syscall number.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "trace.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define NR_accept 43
#define NR_accept4 288

const volatile __u16 targ_lport = 0;

struct accept_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 fd;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct accept_event in the object's BTF, so its layout can be checked and decoded. */
struct accept_event *unused_accept_event __attribute__((unused));

__u64 dropped = 0;

static __always_inline int on_exit(long ret)
{
	if (ret < 0)
		return 0;
	if (!current_allowed())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned long)ret >= max)
		return 0;
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]);
	if (!f)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (targ_lport && lport != targ_lport)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct accept_event e = {};
	e.ts = bpf_ktime_get_ns();
	e.pid = id >> 32;
	e.tid = (__u32)id;
	e.uid = (__u32)bpf_get_current_uid_gid();
	e.fd = ret;
	e.family = family;
	e.lport = lport;
	e.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO(&e.laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&e.raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&e.laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e.raddr, sk, __sk_common.skc_v6_daddr);
	}
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_ringbuf_output(&events, &e, sizeof(e), rb_wake_flags(&events)))
		__sync_fetch_and_add(&dropped, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_accept && nr != NR_accept4)
		return 0;
	return on_exit(ret);
}

char LICENSE[] SEC("license") = "GPL";
