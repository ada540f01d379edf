// SPDX-License-Identifier: GPL-2.0
/*
 * openat.bpf.c: one ring-buffer record per openat(2) by the process whose tgid is
 * target_tgid (a .rodata constant the loader sets before load; 0 means every process).
 * .bss `seen` counts every openat the program saw, matching or not.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__s32 flags;
	char comm[16];
	char filename[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

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

const volatile __u32 target_tgid = 0;
__u64 seen;

/* Keeps struct event in the object's BTF so user space can decode records by name. */
struct event *unused_event_type __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct sys_enter_openat_args *args)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	__sync_fetch_and_add(&seen, 1);
	if (target_tgid && tgid != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = tgid;
	e->flags = (__s32)args->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const void *)args->filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
