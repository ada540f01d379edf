// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: one record per execve(2)/execveat(2) with its arguments and return code.
 * Arguments are read at syscall entry (before the old image goes away) into a per-thread slot
 * and sent at exit, when the return code and the new comm are known. Two hook sets: the
 * syscalls/sys_{enter,exit}_execve tracepoints, or raw_tp sys_enter/sys_exit filtered by
 * syscall number when those tracepoints are missing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

#define ARGSIZE 128
#define MAXARGS 20
#define ARGS_BUF (MAXARGS * ARGSIZE)
#define NR_execve 59
#define NR_execveat 322

struct exec_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 args_count;
	__u32 args_size;
	__u32 truncated;
	char comm[TASK_COMM_LEN];
	char args[ARGS_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct exec_event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

static __always_inline int on_enter(const char *filename, const char *const *argv)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	if (!task_allowed(id))
		return 0;
	struct exec_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->retval = 0;
	e->args_count = 0;
	e->args_size = 0;
	e->truncated = 0;

	long n = bpf_probe_read_user_str(e->args, ARGSIZE, filename);
	if (n <= 0)
		n = 1, e->args[0] = 0;
	e->args_size = n;
	/* argv[0] is usually the filename again: skip it, as execsnoop does. */
#pragma unroll
	for (int i = 1; i < MAXARGS; i++) {
		const char *argp = 0;
		bpf_probe_read_user(&argp, sizeof(argp), &argv[i]);
		if (!argp)
			goto done;
		if (e->args_size > ARGS_BUF - ARGSIZE) {
			e->truncated = 1;
			goto done;
		}
		n = bpf_probe_read_user_str(&e->args[e->args_size], ARGSIZE, argp);
		if (n <= 0)
			goto done;
		e->args_count++;
		e->args_size += n;
	}
	/* More arguments than we keep. */
	{
		const char *argp = 0;
		bpf_probe_read_user(&argp, sizeof(argp), &argv[MAXARGS]);
		if (argp)
			e->truncated = 1;
	}
done:
	bpf_map_update_elem(&execs, &tid, e, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct exec_event *e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->retval = ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (comm_allowed(e->comm)) {
		/* Only the used part of args goes out; the mask gives the verifier a bound. */
		__u64 len = offsetof(struct exec_event, args) + (e->args_size & 0xfff);
		if (len > sizeof(*e))
			len = sizeof(*e);
		if (bpf_ringbuf_output(&events, e, len, rb_wake_flags(&events)))
			__sync_fetch_and_add(&dropped, 1);
	}
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tp_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int tp_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	if (nr == NR_execve)
		return on_enter((const char *)BPF_CORE_READ(regs, di), (const char *const *)BPF_CORE_READ(regs, si));
	if (nr == NR_execveat)
		return on_enter((const char *)BPF_CORE_READ(regs, si), (const char *const *)BPF_CORE_READ(regs, dx));
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	/* orig_ax holds the syscall number at exit. */
	long nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_execve && nr != NR_execveat)
		return 0;
	return on_exit(ret);
}

char LICENSE[] SEC("license") = "GPL";
