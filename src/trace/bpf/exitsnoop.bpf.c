// SPDX-License-Identifier: GPL-2.0
/*
 * exitsnoop: one record per process exit (or thread exit with trace_threads) with its exit
 * code, parent and age. Hooked on tp_btf/sched_process_exit, or the sched/sched_process_exit
 * tracepoint when BTF-typed tracepoints are refused; both read the exiting (current) task.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

const volatile __u8 trace_threads = 0;
const volatile __u8 trace_failed_only = 0;

struct exit_event {
	__u64 ts;
	__u64 start_time;
	__u64 exit_time;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 sig;
	__s32 exit_code;
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct exit_event in the object's BTF, so its layout can be checked and decoded. */
struct exit_event *unused_exit_event __attribute__((unused));

__u64 dropped = 0;

static __always_inline int on_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	if (!trace_threads && pid != tid)
		return 0;
	if (!current_allowed())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int exit_code = BPF_CORE_READ(task, exit_code);
	if (trace_failed_only && exit_code == 0)
		return 0;
	struct exit_event e = {};
	e.ts = bpf_ktime_get_ns();
	e.start_time = BPF_CORE_READ(task, start_time);
	e.exit_time = e.ts;
	e.pid = pid;
	e.tid = tid;
	e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e.sig = exit_code & 0xff;
	e.exit_code = exit_code >> 8;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_ringbuf_output(&events, &e, sizeof(e), rb_wake_flags(&events)))
		__sync_fetch_and_add(&dropped, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_sched_process_exit, struct task_struct *p)
{
	return on_exit();
}

SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	return on_exit();
}

char LICENSE[] SEC("license") = "GPL";
