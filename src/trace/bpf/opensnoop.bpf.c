// SPDX-License-Identifier: GPL-2.0
/*
 * opensnoop: one record per open(2)/openat(2)/openat2(2) with path, flags, mode and the
 * returned fd or error. The path pointer and flags are kept per thread at entry and the path is
 * read at exit (the user buffer is still mapped), as libbpf-tools does. Two hook sets: the
 * syscalls/sys_{enter,exit}_open* tracepoints, or raw_tp sys_enter/sys_exit filtered by syscall number.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

#define NAME_MAX 255
#define NR_open 2
#define NR_openat 257
#define NR_openat2 437

const volatile __u8 trace_failed_only = 0;

struct args_t {
	const char *fname;
	__u64 flags;
	__u64 mode;
	__u32 nr;
	__u32 pad;
};

struct open_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__u64 flags;
	__u64 mode;
	__u32 nr;
	__u32 pad;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

/* Keeps struct open_event in the object's BTF, so its layout can be checked and decoded. */
struct open_event *unused_open_event __attribute__((unused));

__u64 dropped = 0;

static __always_inline int on_enter(__u32 nr, const char *fname, __u64 flags, __u64 mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	if (!current_allowed())
		return 0;
	struct args_t a = { .fname = fname, .flags = flags, .mode = mode, .nr = nr };
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args_t *a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	if (trace_failed_only && ret >= 0)
		goto cleanup;
	struct open_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		goto cleanup;
	}
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = a->flags;
	e->mode = a->mode;
	e->nr = a->nr;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = 0;
	bpf_ringbuf_submit(e, rb_wake_flags(&events));
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(NR_open, (const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(NR_openat, (const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return on_enter(NR_openat2, (const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tp_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	if (nr == NR_open)
		return on_enter(NR_open, (const char *)BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx));
	if (nr == NR_openat)
		return on_enter(NR_openat, (const char *)BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx), BPF_CORE_READ(regs, r10));
	if (nr == NR_openat2) {
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(regs, dx));
		return on_enter(NR_openat2, (const char *)BPF_CORE_READ(regs, si), how.flags, how.mode);
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_open && nr != NR_openat && nr != NR_openat2)
		return 0;
	return on_exit(ret);
}

char LICENSE[] SEC("license") = "GPL";
